//! Database weights of this runtime: the time of one storage read and one write on RocksDB,
//! measured by `scripts/benchmark-runtime.sh` (`stratos-node benchmark storage`). Do not edit
//! by hand: rerun the script.
//!
//! Generated 2026-12-07 (Y/M/D) on `vm` (Intel(R) Xeon(R) Processor), database `RocksDb` at block
//! Number(0), state version V1, 1 warm-up
//! rounds, metric Average × 1.0 + 0 ns.

use frame_support::{
	parameter_types,
	weights::{constants::WEIGHT_REF_TIME_PER_NANOS, RuntimeDbWeight},
};

parameter_types! {
	/// One read and one write of a storage item.
	pub const RocksDbWeight: RuntimeDbWeight = RuntimeDbWeight {
		// Read: min 3_644 ns, median 16_816 ns,
		// mean 18_698 ns, p99 46_792 ns, max 2_816_460 ns.
		read: 18_698 * WEIGHT_REF_TIME_PER_NANOS,
		// Write: min 17_413 ns, median 27_589 ns,
		// mean 29_278 ns, p99 38_406 ns, max 38_406 ns.
		write: 29_278 * WEIGHT_REF_TIME_PER_NANOS,
	};
}
