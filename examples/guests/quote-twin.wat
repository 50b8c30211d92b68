;; A minimal Sentinel twin guest in the WebAssembly text format
;; (sandbox ABI v1; `sentinel sandbox run --module examples/guests/quote-twin.wat`).
;; It "exploits" when the payload contains a single quote, the way a query
;; built as  ... WHERE name = '<payload>'  would break. No imports.
(module
  (memory (export "memory") 1)
  ;; Bump allocator for the input, above the two result strings.
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 0) "{\"exploit\":true,\"context\":\"quoted-string\",\"contexts\":[\"quoted-string\"],\"evidence\":[\"the payload closes the quoted string\"]}")
  (data (i32.const 512) "{\"exploit\":false,\"context\":null,\"contexts\":[\"quoted-string\"],\"evidence\":[]}")

  (func (export "sentinel_abi_version") (result i32) (i32.const 1))

  ;; sentinel_alloc(len) -> ptr: grows the memory when needed, 0 on failure.
  (func (export "sentinel_alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.lt_s
              (memory.grow (i32.sub
                (i32.div_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 65536))
                (memory.size)))
              (i32.const 0))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  ;; sentinel_run(ptr, len) -> (result_ptr << 32) | result_len.
  ;; The input is CLASS "\n" PAYLOAD; class names contain no quote, so the
  ;; whole input can be scanned.
  (func (export "sentinel_run") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.eq (i32.load8_u (i32.add (local.get $ptr) (local.get $i))) (i32.const 39))
          (then (return (i64.const 123))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i64.or (i64.shl (i64.const 512) (i64.const 32)) (i64.const 75))))
