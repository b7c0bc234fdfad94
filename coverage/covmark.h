/* SPDX-License-Identifier: MIT */
#ifndef COVMARK_H
#define COVMARK_H
#define COVMARK_NR 0x5a50        /* no such system call: ENOSYS */
#define COVMARK_MAGIC 0x636f766dL /* "covm" in rdi */
#endif
