# SPDX-License-Identifier: MIT
# Figure 2: I/O microbenchmarks per mechanism, pass hook, log scale,
# whiskers min-max. Usage: gnuplot -c plots/fig2_io.gp OUT/fig2-io.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig2_io.gp")]."common.gp"

w = 0.84 / nmech
x(i) = $0 - 0.42 + (i + 0.5) * w
do for [t in terms] {
    eval set_term(t, 1100, 500)
    set output out.".".t
    set title "I/O microbenchmarks per mechanism (pass hook: the real system calls)"
    set style fill solid 0.85 border -1
    set logscale y
    set yrange [floor:*]
    set format y "%.0s%c"
    set grid ytics mytics lw 0.3
    set xrange [-0.5:*]
    set offsets 0, 0.5, 0, 0
    set ylabel "time per operation [ns] (log scale)"
    set key autotitle columnhead
    set key top left horizontal maxcols 5 font ",8" samplen 1.5
    set bmargin 5
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    plot for [i=0:nmech-1] dat using (x(i)):(column(2+3*i)):(x(i)-w/2):(x(i)+w/2):(floor):(column(2+3*i)) \
            with boxxyerror lc rgb word(colors, i+1) title columnhead(2+3*i), \
         for [i=0:nmech-1] '' using (x(i)):(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) \
            with yerrorbars pt -1 lw 0.6 lc rgb "black" notitle, \
         '' using 0:(NaN):xtic(1) notitle
    unset output
}
