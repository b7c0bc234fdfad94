/* SPDX-License-Identifier: MIT */
/*
 * Inside zphook-trace.so: tracer.c is the hook and its settings, args.c
 * prints a call's arguments and result from the traced memory, formats.c
 * says how each call's arguments are printed.
 */
#ifndef ZP_TRACE_H
#define ZP_TRACE_H

#include "zpout.h"
#include "zpoline.h"

#define TRACE_MAX_STRLEN 512

/* Bytes shown per path and per data buffer (ZPOLINE_TRACE_PATHLEN and
 * ZPOLINE_TRACE_STRLEN, at most TRACE_MAX_STRLEN). */
extern unsigned trace_path_cap, trace_str_cap;

/* One letter per argument of call `nr` (legend in formats.c), or NULL. */
const char *trace_format(long nr);

/* The traced memory is read through our own pid: call trace_mem_init once
 * at start-up, and trace_note_child after every call, which may have made
 * a new process. */
void trace_mem_init(void);
void trace_note_child(const struct zp_syscall *sc, long ret);

/* "a, b, c" as the call's format says; `done`: it has returned `ret`, so
 * what it wrote (a read buffer, say) can be shown. */
void trace_put_args(struct zp_out *o, const struct zp_syscall *sc, long ret,
		    int done);
/* What follows " = ": 3, 0x7f..., -1 ENOENT (No such file or directory). */
void trace_put_result(struct zp_out *o, long nr, long ret);

#endif
