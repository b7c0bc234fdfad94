# SPDX-License-Identifier: MIT
# Figure 3: sled cost by syscall number, nop vs fast sled (null hook),
# whiskers: quartiles. Usage: gnuplot -c plots/fig3_sled.gp OUT/fig3-sled.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig3_sled.gp")]."common.gp"

do for [t in terms] {
    eval set_term(t, 900, 500)
    set output out.".".t
    set title "Sled cost by syscall number: nop sled vs fast sled"
    set xlabel "syscall number (rax) = entry offset into the sled"
    set ylabel sprintf("time per call, %s hook [ns]", hook)
    set yrange [0:*]
    set grid lw 0.3
    set key top right
    set bmargin 6
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    plot for [i=0:nseries-1] dat index i using 1:2:3:4 with yerrorlines \
        pt 7 ps 0.6 lw 1.2 title columnhead(1)
    unset output
}
