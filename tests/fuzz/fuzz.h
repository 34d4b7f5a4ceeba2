/* fuzz: what every harness in this directory defines.
 *
 * Each harness is one parser of untrusted bytes fed by libFuzzer (built with
 * -DMFS_FUZZ=ON and clang, see tools/fuzz.sh) or, in the normal build, by
 * driver.c, which replays the harness's corpus (corpus/<target>/) once so a
 * regression in any seed or past crash fails ctest. A harness returns 0 and
 * calls abort() when a property it checks does not hold. */
#ifndef MFS_FUZZ_H
#define MFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
