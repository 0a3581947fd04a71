// The fuzzing-build switch of the delta engine (issue 15).
//
// STRATA_FUZZING is defined only by the libFuzzer build (CMake option
// STRATA_DIFF_LIBFUZZER, used by tools/fuzz.sh). In that build the readers
// skip the integrity checks a mutated input can never pass, so the fuzzer
// reaches the code behind them: the Strata patch header checksum, the tree
// patch header checksum, the tree manifest SHA-256, the archive form's old
// archive check and zstd's frame checksums (so a mutated frame's output
// reaches the tree archive reader and the applier). Every other check
// (sizes, limits, the base and output SHA-256) stays.
//
// It is compile-time only: there is no runtime flag, and a build that
// defines STRATA_FUZZING without clang's AddressSanitizer does not compile,
// so a normal (gcc or unsanitized) build can never ship with it.
#ifndef STRATA_DIFF_SRC_FUZZING_H_
#define STRATA_DIFF_SRC_FUZZING_H_

#if defined(STRATA_FUZZING)
#if !defined(__clang__) || !defined(__has_feature)
#error "STRATA_FUZZING is for clang libFuzzer builds only (tools/fuzz.sh)"
#elif !__has_feature(address_sanitizer)
#error "STRATA_FUZZING needs -fsanitize=address (tools/fuzz.sh)"
#endif
#endif

namespace strata::diff::internal {

#if defined(STRATA_FUZZING)
inline constexpr bool kSkipIntegrityChecksForFuzzing = true;
#else
inline constexpr bool kSkipIntegrityChecksForFuzzing = false;
#endif

}  // namespace strata::diff::internal

#endif  // STRATA_DIFF_SRC_FUZZING_H_
