//! The pallets whose benchmarks this runtime runs (`stratos-node benchmark pallet`).

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_transaction_payment, TransactionPayment]
	[pallet_sudo, Sudo]
	[pallet_preimage, Preimage]
	[pallet_scheduler, Scheduler]
	[pallet_referenda, Referenda]
	[pallet_conviction_voting, ConvictionVoting]
	[pallet_validator_set, ValidatorSet]
	[pallet_chain_params, ChainParams]
	[pallet_node_registry, NodeRegistry]
	[pallet_file_registry, FileRegistry]
	[pallet_pot, Pot]
);
