/* SPDX-License-Identifier: MIT */
/* hookthreads.h - seccomp's guard for a hook library: threads inside the
 * hook, by thread id (hookthreads.c). */
#ifndef ZPM_HOOKTHREADS_H
#define ZPM_HOOKTHREADS_H

#include "sigsys.h"

ZPM_HIDDEN extern const struct zpm_hook_guard zpm_hookthreads_guard;

#endif
