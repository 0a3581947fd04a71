# Rewrites proto/strata/v1/<name>.proto (IN) into package strata.device.v1
# for the lite runtime (OUT): the same messages and field numbers, so the
# same wire format, in a namespace that cannot clash with strata.v1.
file(READ ${IN} text)
string(REPLACE "package strata.v1;"
       "package strata.device.v1;\noption optimize_for = LITE_RUNTIME;"
       text "${text}")
string(REPLACE "import \"strata/v1/" "import \"strata/device/v1/" text
       "${text}")
string(REPLACE "strata.v1." "strata.device.v1." text "${text}")
file(WRITE ${OUT} "${text}")
