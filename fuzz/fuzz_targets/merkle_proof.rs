#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sds_core::fuzzing::merkle_proof(data));
