# ctest's run of benchmarks/bench_vs_transformers.py (benchmarks/CMakeLists.txt):
# it must exit 0 and print, for the rollouts and for the training step, an opd
# row with a ratio and a row of the peer, and the step's model FLOPs
# utilisation against a matmul rate measured in the same run.
#   cmake -DPYTHON=... -DDRIVER=.../bench_vs_transformers.py -DBIN_DIR=build/bin -P check_vs_transformers.cmake
execute_process(
  COMMAND ${PYTHON} ${DRIVER} --device cpu --shape tiny --batches 2 --prompt-tokens 8 --new-tokens 8
    --repeats 1 --threads 1 --prompts-per-step 2 --samples-per-prompt 2 --micro-batch 2 --train-steps 2
    --bin-dir ${BIN_DIR}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench_vs_transformers.py exited ${rc}:\n${out}\n${err}")
endif()
set(number "[0-9]+(\\.[0-9]+)?")
if(NOT out MATCHES "\n +2 \\| opd +\\| ${number} \\[${number}, ${number}\\] +\\| [^|]+\\| ${number}x \\[")
  message(FATAL_ERROR "no opd row with a ratio in:\n${out}")
endif()
if(NOT out MATCHES "\n +2 \\| transformers +\\| ${number} \\[${number}, ${number}\\]")
  message(FATAL_ERROR "no transformers row in:\n${out}")
endif()
if(NOT out MATCHES "\nopd +\\| ${number} \\[${number}, ${number}\\] +\\| ${number} +\\| [^|]+\\| [^|]+\\| ${number}x \\[")
  message(FATAL_ERROR "no opd training-step row with a ratio in:\n${out}")
endif()
if(NOT out MATCHES "\nopd +\\|[^\n]*\\| ${number}%\n[^\n]*\n(MFU: [^\n]*GFLOP/s of a float32 matmul measured in this run)")
  message(FATAL_ERROR "no MFU on the training-step rows in:\n${out}")
endif()
if(NOT out MATCHES "\ntrl-style +\\| ${number} \\[")
  message(FATAL_ERROR "no TRL-style training-step row in:\n${out}")
endif()
if(NOT out MATCHES "check: [^\n]*: ok")
  message(FATAL_ERROR "the logits check did not pass:\n${out}")
endif()
