//! What `stratos-node benchmark overhead` and `benchmark extrinsic` need from the node:
//! signed extrinsics built against a client, and the inherents of an empty block.
//!
//! Only compiled with `--features runtime-benchmarks`; the weights they measure are the
//! runtime's `weights/block_weights.rs` and `weights/extrinsic_weights.rs`.

use crate::service::FullClient;
use sc_client_api::BlockBackend;
use sp_core::{sr25519, Pair};
use sp_inherents::{InherentData, InherentDataProvider};
use sp_runtime::{codec::Encode, generic::Era, OpaqueExtrinsic};
use std::{sync::Arc, time::Duration};
use stratos_runtime::{
	AccountId, Balance, BalancesCall, Runtime, RuntimeCall, SignedPayload, SystemCall, TxExtension,
	UncheckedExtrinsic, VERSION,
};

/// Builds `system.remark` extrinsics with an empty remark: the per-extrinsic base cost.
pub struct RemarkBuilder {
	client: Arc<FullClient>,
}

impl RemarkBuilder {
	pub fn new(client: Arc<FullClient>) -> Self {
		Self { client }
	}
}

impl frame_benchmarking_cli::ExtrinsicBuilder for RemarkBuilder {
	fn pallet(&self) -> &str {
		"system"
	}

	fn extrinsic(&self) -> &str {
		"remark"
	}

	fn build(&self, nonce: u32) -> Result<OpaqueExtrinsic, &'static str> {
		let call = RuntimeCall::System(SystemCall::remark { remark: vec![] });
		signed(&self.client, sp_keyring::Sr25519Keyring::Bob.pair(), call, nonce)
	}
}

/// Builds `balances.transfer_keep_alive` extrinsics from Bob to `dest`.
pub struct TransferKeepAliveBuilder {
	client: Arc<FullClient>,
	dest: AccountId,
	value: Balance,
}

impl TransferKeepAliveBuilder {
	pub fn new(client: Arc<FullClient>, dest: AccountId, value: Balance) -> Self {
		Self { client, dest, value }
	}
}

impl frame_benchmarking_cli::ExtrinsicBuilder for TransferKeepAliveBuilder {
	fn pallet(&self) -> &str {
		"balances"
	}

	fn extrinsic(&self) -> &str {
		"transfer_keep_alive"
	}

	fn build(&self, nonce: u32) -> Result<OpaqueExtrinsic, &'static str> {
		let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
			dest: self.dest.clone().into(),
			value: self.value,
		});
		signed(&self.client, sp_keyring::Sr25519Keyring::Bob.pair(), call, nonce)
	}
}

/// `call` signed by `sender` with `nonce`, immortal, no tip, with every extension the runtime
/// checks: the same work a wallet's transaction costs the block.
fn signed(
	client: &FullClient,
	sender: sr25519::Pair,
	call: RuntimeCall,
	nonce: u32,
) -> Result<OpaqueExtrinsic, &'static str> {
	let genesis = client
		.block_hash(0)
		.map_err(|_| "the database has no genesis block")?
		.ok_or("the database has no genesis block")?;
	let extensions: TxExtension = (
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
		frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
	);
	// What the extensions add to the signed payload without carrying it in the extrinsic.
	let implicit =
		((), VERSION.spec_version, VERSION.transaction_version, genesis, genesis, (), (), (), None);
	let payload = SignedPayload::from_raw(call.clone(), extensions.clone(), implicit);
	let signature = payload.using_encoded(|bytes| sender.sign(bytes));
	let xt = UncheckedExtrinsic::new_signed(
		call,
		AccountId::from(sender.public()).into(),
		signature.into(),
		extensions,
	);
	OpaqueExtrinsic::try_from_encoded_extrinsic(&xt.encode())
		.map_err(|_| "extrinsic does not decode as opaque")
}

/// Inherents of a benchmark block: the timestamp at zero, which is Aura's slot zero, the slot
/// a block without a pre-runtime digest is in.
pub fn inherent_data() -> sc_cli::Result<InherentData> {
	let mut data = InherentData::new();
	let timestamp = sp_timestamp::InherentDataProvider::new(Duration::ZERO.into());
	futures::executor::block_on(timestamp.provide_inherent_data(&mut data))
		.map_err(|e| format!("creating the timestamp inherent: {e:?}"))?;
	Ok(data)
}
