#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sds_core::fuzzing::wire_decoder(data));
