#!/usr/bin/env bash
# Prints the CMake flags for a portable llama.cpp CPU build, and (with --key)
# a short cache key for them. Used by install.sh and build_llama_server.sh.
#
# Why not GGML_NATIVE=ON: -march=native turns on ggml's AMX kernels on
# Sapphire Rapids-class CPUs, and those fault under many hypervisors (cloud
# VMs: AWS m7i/c7i, GCP C3/C4, Azure Dv6). GGML_NATIVE=OFF with the ISA list
# the kernel reports in /proc/cpuinfo keeps AVX2/AVX-512 speed and never
# compiles AMX. Set DSCODER_LLAMA_CMAKE_ARGS to override the whole list.
set -euo pipefail

flags_of_cpu() {
  local cpuinfo="${DSCODER_CPUINFO:-/proc/cpuinfo}"
  local have
  have=" $(grep -m1 '^flags' "$cpuinfo" 2>/dev/null | cut -d: -f2) "
  local args="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  on() { case "$have" in *" $1 "*) echo ON ;; *) echo OFF ;; esac; }
  args+=" -DGGML_AVX=$(on avx) -DGGML_AVX2=$(on avx2) -DGGML_FMA=$(on fma)"
  args+=" -DGGML_F16C=$(on f16c) -DGGML_BMI2=$(on bmi2) -DGGML_AVX_VNNI=$(on avx_vnni)"
  args+=" -DGGML_AVX512=$(on avx512f) -DGGML_AVX512_VBMI=$(on avx512vbmi)"
  args+=" -DGGML_AVX512_VNNI=$(on avx512_vnni) -DGGML_AVX512_BF16=$(on avx512_bf16)"
  echo "$args"
}

args="${DSCODER_LLAMA_CMAKE_ARGS:-$(flags_of_cpu)}"
if [ "${1:-}" = "--key" ]; then
  # The key names the flags, so a build made with other flags is never reused.
  printf '%s' "$args" | sha256sum | cut -c1-12
else
  echo "$args"
fi
