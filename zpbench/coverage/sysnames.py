# SPDX-License-Identifier: MIT
"""x86-64 system call number <-> name, from the kernel's uapi header."""
import re

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
_names = None


def names():
    global _names
    if _names is None:
        _names = {}
        try:
            with open(UNISTD) as f:
                for line in f:
                    m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
                    if m:
                        _names[int(m.group(2))] = m.group(1)
        except OSError:
            pass
    return _names


def name(nr):
    return names().get(int(nr), f"nr{nr}")
