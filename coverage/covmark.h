/* SPDX-License-Identifier: MIT */
#ifndef COVMARK_H
#define COVMARK_H
/* no such system call (ENOSYS); below 4092, the highest number zpoline's
 * trampoline takes (README, "Trampoline"): the marker may be made from code
 * zpoline has rewritten. */
#define COVMARK_NR 4000
#define COVMARK_MAGIC 0x636f766dL /* "covm" in rdi: constructors begin */
#define COVMARK_MAGIC_MAIN 0x636f764dL /* "covM": the program's own start */
#endif
