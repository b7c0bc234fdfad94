# SPDX-License-Identifier: MIT
# Shared by the figure scripts: loaded after the .vars file (dat, out,
# caption). Each script draws once per terminal in `terms`.
set datafile missing "-"
set encoding utf8
terms = "png svg"
set_term(t, w, h) = (t eq "png") ? \
    sprintf("set terminal pngcairo size %d,%d font 'Sans,9' noenhanced", w, h) : \
    sprintf("set terminal svg size %d,%d dynamic font 'Sans,9' noenhanced", w, h)
