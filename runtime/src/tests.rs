//! Native tests of the composed runtime: the genesis presets build and satisfy every pallet's
//! invariants; with `try-runtime` + `upgrade-test`, the v0 → v1 migration passes try-runtime's
//! pre/post checks.

use crate::{genesis_config_presets as presets, AccountId, Runtime, RuntimeGenesisConfig};
use frame_support::genesis_builder_helper::{build_state, get_preset};
use sp_genesis_builder::PresetId;

/// Merges a preset patch into the default genesis, as the node does for a chain spec.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
			for (k, v) in p {
				merge(b.entry(k).or_insert(serde_json::Value::Null), v);
			}
		},
		(b, p) => *b = p,
	}
}

/// Test externalities holding the genesis state of preset `id`.
pub fn preset_ext(id: &str) -> sp_io::TestExternalities {
	preset_ext_with(id, |_| {})
}

/// Test externalities holding the genesis state of preset `id`, after `edit` changed its
/// full genesis JSON (the default merged with the preset's patch, as the node merges it).
pub(crate) fn preset_ext_with(
	id: &str,
	edit: impl FnOnce(&mut serde_json::Value),
) -> sp_io::TestExternalities {
	let default = get_preset::<RuntimeGenesisConfig>(&None, |_| None).expect("default genesis");
	let mut full: serde_json::Value = serde_json::from_slice(&default).unwrap();
	let patch = presets::get_preset(&PresetId::from(id)).expect("preset exists");
	merge(&mut full, serde_json::from_slice(&patch).unwrap());
	edit(&mut full);
	let mut ext = sp_io::TestExternalities::new_empty();
	ext.execute_with(|| {
		build_state::<RuntimeGenesisConfig>(serde_json::to_vec(&full).unwrap())
			.expect("preset genesis builds")
	});
	ext
}

#[test]
fn every_preset_builds_with_its_validators() {
	for (id, validators) in [
		(sp_genesis_builder::DEV_RUNTIME_PRESET, 1),
		(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET, 4),
		(presets::TESTNET_RUNTIME_PRESET, 3),
		(presets::DEV_NETWORK_RUNTIME_PRESET, 1),
	] {
		preset_ext(id).execute_with(|| {
			let set = pallet_validator_set::Validators::<Runtime>::get();
			assert_eq!(set.len(), validators, "{id}");
			assert_eq!(pallet_session::Validators::<Runtime>::get().len(), validators, "{id}");
			assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), validators, "{id}");
			assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), validators);
		});
	}
	assert_eq!(presets::preset_names().len(), 4);
}

#[test]
fn only_dev_chains_have_sudo() {
	preset_ext(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.execute_with(|| assert!(pallet_sudo::Key::<Runtime>::get().is_some()));
	preset_ext(presets::TESTNET_RUNTIME_PRESET)
		.execute_with(|| assert!(pallet_sudo::Key::<Runtime>::get().is_none()));
}

#[test]
fn testnet_uses_no_dev_keys() {
	use sp_keyring::Sr25519Keyring;
	preset_ext(presets::TESTNET_RUNTIME_PRESET).execute_with(|| {
		let set = pallet_validator_set::Validators::<Runtime>::get();
		for k in Sr25519Keyring::iter() {
			let dev: AccountId = k.to_account_id();
			assert!(!set.contains(&dev), "testnet validator is dev key {k:?}");
			assert!(frame_system::Account::<Runtime>::get(&dev).data.free == 0);
		}
	});
}

#[test]
fn every_preset_has_storage_nodes_and_its_own_periods() {
	use pallet_node_registry::{ActiveMeta, NodeKind, Nodes};
	use sp_keyring::Ed25519Keyring;
	for (id, metas, resources, storage_period) in [
		(sp_genesis_builder::DEV_RUNTIME_PRESET, 1, 3, presets::DEV_STORAGE.storage_period),
		(
			sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
			3,
			4,
			presets::DEV_STORAGE.storage_period,
		),
		(presets::TESTNET_RUNTIME_PRESET, 3, 0, presets::TESTNET_STORAGE.storage_period),
		(presets::DEV_NETWORK_RUNTIME_PRESET, 3, 4, presets::DEV_STORAGE.storage_period),
	] {
		preset_ext(id).execute_with(|| {
			assert_eq!(ActiveMeta::<Runtime>::get().len(), metas, "{id}");
			let rns = Nodes::<Runtime>::iter_values().filter(|n| n.kind == NodeKind::Resource);
			assert_eq!(rns.count(), resources, "{id}");
			assert_eq!(pallet_file_registry::StoragePeriod::<Runtime>::get(), storage_period);
			assert!(
				pallet_file_registry::CreditLimit::<Runtime>::get() > 0,
				"{id}: credit for sale"
			);
			let pool = pallet_file_registry::Pallet::<Runtime>::pool_account();
			assert!(frame_system::Pallet::<Runtime>::account_exists(&pool), "{id}: pool exists");
		});
	}
	// Testnet node keys are not the well-known dev keys.
	preset_ext(presets::TESTNET_RUNTIME_PRESET).execute_with(|| {
		for n in Nodes::<Runtime>::iter_values() {
			assert!(
				Ed25519Keyring::iter().all(|k| k.public().0 != n.node_id.0),
				"testnet node key is a dev key"
			);
		}
	});
}

#[test]
fn every_preset_has_traffic_rewards_that_pay_and_cap_wash_traffic() {
	for (id, period) in [
		(sp_genesis_builder::DEV_RUNTIME_PRESET, presets::DEV_STORAGE.traffic.period_length),
		(
			sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
			presets::DEV_STORAGE.traffic.period_length,
		),
		(presets::TESTNET_RUNTIME_PRESET, presets::TESTNET_STORAGE.traffic.period_length),
		(presets::DEV_NETWORK_RUNTIME_PRESET, presets::DEV_STORAGE.traffic.period_length),
	] {
		preset_ext(id).execute_with(|| {
			let p = pallet_pot::Params::<Runtime>::get();
			assert_eq!(p.period_length, period, "{id}");
			assert!(pallet_pot::Pallet::<Runtime>::tier_issuance() > 0, "{id}: issuance");
			// The break-even condition of ADR 0010: rewards stay below what the rewarded
			// bytes cost, and something is still paid.
			assert!(p.wash_cap < sp_runtime::Perbill::one(), "{id}: k < 1");
			assert!(p.wash_cap > sp_runtime::Perbill::zero(), "{id}: k > 0");
			let pot = pallet_pot::Pallet::<Runtime>::pot_account();
			assert!(frame_system::Pallet::<Runtime>::account_exists(&pot), "{id}: pot exists");
		});
	}
}

#[test]
fn governance_timings_differ_per_chain_but_curves_do_not() {
	use pallet_referenda::TracksInfo as _;
	let track = |id: &str| {
		preset_ext(id).execute_with(|| {
			let t = crate::configs::governance::TracksInfo::tracks().next().unwrap().into_owned();
			(t.info.decision_period, t.info.min_approval, t.info.min_support)
		})
	};
	let (dev_period, dev_app, dev_sup) = track(sp_genesis_builder::DEV_RUNTIME_PRESET);
	let (net_period, net_app, net_sup) = track(presets::TESTNET_RUNTIME_PRESET);
	assert_eq!(dev_period, presets::DEV_GOVERNANCE.decision_period);
	assert_eq!(net_period, presets::TESTNET_GOVERNANCE.decision_period);
	assert!(dev_period < net_period);
	assert_eq!(dev_app, net_app);
	assert_eq!(dev_sup, net_sup);
}

#[test]
fn block_weight_fits_the_slot() {
	let w = crate::configs::RuntimeBlockWeights::get();
	// At most half the 2 s slot of compute (docs/adr/0003-two-second-slots.md): the author
	// builds it and every other validator imports it within the slot.
	assert!(
		w.max_block.ref_time() * 2
			<= 2 * frame_support::weights::constants::WEIGHT_REF_TIME_PER_SECOND
	);
	// The measured base costs are in the limits, not FRAME's reference ones.
	assert_eq!(w.base_block, crate::weights::block_weights::BlockExecutionWeight::get());
	for class in frame_support::dispatch::DispatchClass::all() {
		assert_eq!(
			w.get(*class).base_extrinsic,
			crate::weights::extrinsic_weights::ExtrinsicBaseWeight::get()
		);
	}
	// A runtime upgrade fits what the scheduler may dispatch in one block.
	use frame_system::WeightInfo;
	let set_code = <Runtime as frame_system::Config>::SystemWeightInfo::set_code();
	assert!(set_code.all_lte(crate::configs::MaximumSchedulerWeight::get()));
}

#[cfg(feature = "try-runtime")]
#[test]
fn genesis_state_passes_every_try_state() {
	use crate::{AllPalletsWithSystem, BlockNumber};
	use frame_support::traits::{TryState, TryStateSelect};
	for id in [
		sp_genesis_builder::DEV_RUNTIME_PRESET,
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
		presets::TESTNET_RUNTIME_PRESET,
		presets::DEV_NETWORK_RUNTIME_PRESET,
	] {
		preset_ext(id).execute_with(|| {
			AllPalletsWithSystem::try_state(1 as BlockNumber, TryStateSelect::All)
				.expect("try_state holds on genesis");
		});
	}
}

/// The upgrade-test runtime's migration, run the way `try-runtime on-runtime-upgrade` runs it:
/// all migrations with their pre/post checks and every pallet's try_state afterwards, on the
/// state of a chain that ran the current (v0) runtime.
#[cfg(all(feature = "try-runtime", feature = "upgrade-test"))]
#[test]
fn upgrade_migration_passes_try_runtime_checks() {
	use frame_support::traits::{GetStorageVersion, StorageVersion, UpgradeCheckSelect};
	preset_ext(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET).execute_with(|| {
		// Make the state what the v0 runtime left: no ValidatorSince entries, version 0.
		let _ = pallet_validator_set::ValidatorSince::<Runtime>::clear(u32::MAX, None);
		StorageVersion::new(0).put::<pallet_validator_set::Pallet<Runtime>>();
		frame_system::Pallet::<Runtime>::set_block_number(77);

		let weight = crate::Executive::try_runtime_upgrade(UpgradeCheckSelect::All)
			.expect("pre/post checks and try_state pass");
		assert!(weight.ref_time() > 0);

		assert_eq!(pallet_validator_set::Pallet::<Runtime>::on_chain_storage_version(), 1);
		for v in pallet_validator_set::Validators::<Runtime>::get() {
			assert_eq!(pallet_validator_set::ValidatorSince::<Runtime>::get(&v), Some(77));
		}
	});
}

#[test]
fn a_full_report_chunk_fits_in_a_block() {
	use frame_support::{dispatch::DispatchClass, weights::Weight};
	use pallet_pot::WeightInfo;
	type W = pallet_pot::weights::SubstrateWeight<Runtime>;
	let max = crate::configs::RuntimeBlockWeights::get()
		.get(DispatchClass::Normal)
		.max_extrinsic
		.expect("normal extrinsics are bounded");
	let chunk = crate::configs::storage::MAX_CHUNK;
	// The heaviest chunk: all node entries (they cost more than client entries), with the
	// settlement the last chunk may carry at its bounds.
	let worst: Weight = W::submit_chunk(chunk, 0)
		.max(W::submit_chunk(0, chunk))
		.saturating_add(pallet_pot::Pallet::<Runtime>::settle_weight());
	assert!(worst.all_lte(max), "a {chunk}-entry chunk weighs {worst:?}, a block takes {max:?}");
}

#[test]
fn burns_are_noted_in_the_issuance_ledger_and_other_issuance_changes_are_filtered() {
	use frame_support::traits::{
		fungible::Balanced,
		tokens::{Fortitude, Precision, Preservation},
		Contains, Currency, ExistenceRequirement, OnUnbalanced, WithdrawReasons,
	};
	use sp_keyring::Sr25519Keyring;
	let alice: AccountId = Sr25519Keyring::Alice.to_account_id();
	preset_ext(sp_genesis_builder::DEV_RUNTIME_PRESET).execute_with(|| {
		let issuance = crate::Balances::total_issuance();
		// A fee (or dust) taken by the fee handler.
		let fee = <crate::Balances as Balanced<AccountId>>::withdraw(
			&alice,
			1_000,
			Precision::Exact,
			Preservation::Preserve,
			Fortitude::Polite,
		)
		.expect("Alice can pay");
		pallet_pot::BurnAndNote::<Runtime>::on_unbalanced(fee);
		// A governance slash.
		let slash = <crate::Balances as Currency<AccountId>>::withdraw(
			&alice,
			500,
			WithdrawReasons::all(),
			ExistenceRequirement::KeepAlive,
		)
		.expect("Alice can pay");
		crate::configs::storage::BurnSlash::on_unbalanced(slash);
		assert_eq!(crate::Balances::total_issuance(), issuance - 1_500);
		assert_eq!(pallet_pot::Burned::<Runtime>::get(), 1_500);
		pallet_pot::Pallet::<Runtime>::do_try_state().expect("the ledger balances");
	});
	let guard = |call| crate::configs::IssuanceGuard::contains(&call);
	let bob: AccountId = Sr25519Keyring::Bob.to_account_id();
	assert!(!guard(crate::RuntimeCall::Balances(pallet_balances::Call::burn {
		value: 1,
		keep_alive: true
	})));
	assert!(!guard(crate::RuntimeCall::Balances(pallet_balances::Call::force_set_balance {
		who: bob.clone().into(),
		new_free: 1
	})));
	assert!(guard(crate::RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
		dest: bob.into(),
		value: 1
	})));
}

#[test]
fn a_resource_node_downloading_its_own_files_earns_less_than_it_pays() {
	use frame_support::traits::{fungible::Inspect, Hooks};
	use stratos_primitives::traffic::{
		chunk_report, commitment, order_report, ClientTraffic, NodeTraffic,
	};
	type Pot = pallet_pot::Pallet<Runtime>;
	type Files = pallet_file_registry::Pallet<Runtime>;
	let signed = |who: &AccountId| crate::RuntimeOrigin::signed(who.clone());
	let run_to = |n: u32| {
		let from = frame_system::Pallet::<Runtime>::block_number() + 1;
		for b in from..=n {
			frame_system::Pallet::<Runtime>::set_block_number(b);
			Pot::on_initialize(b);
		}
	};
	// The chain's real parameters: the dev chain's and the local network's genesis (the
	// testnet has the same credit curve, tiers and cap — checked above — but no resource
	// node at genesis).
	// A big wash (a tenth of the washer's balance: the period's issuance is the limit) and a
	// small one (1 STOS: the cap k × price is the limit).
	for (id, small) in [
		(sp_genesis_builder::DEV_RUNTIME_PRESET, false),
		(sp_genesis_builder::DEV_RUNTIME_PRESET, true),
		(presets::DEV_NETWORK_RUNTIME_PRESET, false),
	] {
		preset_ext(id).execute_with(|| {
			// The washer operates a registered resource node and downloads from itself.
			let (washer, node) = pallet_node_registry::Nodes::<Runtime>::iter()
				.find(|(_, n)| n.kind == pallet_node_registry::NodeKind::Resource)
				.map(|(who, n)| (who, n.node_id))
				.expect("a resource node at genesis");
			let before = crate::Balances::balance(&washer);
			let amount = if small { crate::UNITS } else { before / 10 };
			Files::buy_credit(signed(&washer), amount, 0).expect("buys credit");
			let paid = before - crate::Balances::balance(&washer);
			let bytes = pallet_file_registry::Credit::<Runtime>::get(&washer);
			Files::reserve_credit(signed(&washer), bytes).expect("reserves it");
			let me: [u8; 32] = *washer.as_ref();

			// Period 0 ends: the meta nodes report the wash traffic truthfully.
			let params = pallet_pot::Params::<Runtime>::get();
			run_to(params.period_length + 1);
			let report = pallet_pot::Reports::<Runtime>::get(0).expect("report opened");
			let entries = order_report(
				[(NodeTraffic { node, bytes: bytes as u64 }, 0)],
				[ClientTraffic { client: me, bytes: bytes as u64, receipts_root: [1; 32] }],
			);
			let chunked =
				chunk_report(&Pot::genesis_hash(), 0, &entries, params.chunk_size as usize);
			let salt = [7; 32];
			for m in report.electorate.iter() {
				let c = commitment(&chunked.digest, &salt, &Pot::reporter_key(m));
				Pot::commit(signed(m), 0, c).expect("commit");
			}
			for m in report.electorate.iter() {
				Pot::reveal(signed(m), 0, chunked.digest, salt).expect("reveal");
			}
			let streamer = report.electorate[0].clone();
			for (chunk, next) in &chunked.chunks {
				let chunk = chunk.clone().try_into().expect("chunk fits");
				Pot::submit_chunk(signed(&streamer), 0, chunk, *next).expect("chunk");
			}
			let until = pallet_pot::Reports::<Runtime>::get(0)
				.and_then(|r| r.reveal_until)
				.expect("reveal phase");
			run_to(until + 1);
			let info = pallet_pot::Periods::<Runtime>::get(0).expect("period 0");
			assert_eq!(info.status, pallet_pot::PeriodStatus::Settled, "{id}");
			let earned = Pot::rewards_view(&washer).pending;
			// It earns something, and less than it paid: at most k × the price of the
			// traffic (k = {wash_cap}), whatever the period's issuance.
			println!("{id}: washing {bytes} bytes cost {paid}, earned {earned}");
			if small {
				assert_eq!(earned, params.wash_cap * paid, "{id}: the cap binds");
			}
			assert!(earned > 0, "{id}: nothing paid");
			assert!(earned < paid, "{id}: earned {earned} of {paid} paid");
			assert!(earned <= params.wash_cap * paid, "{id}: earned {earned}, paid {paid}");
		});
	}
}

/// A GRANDPA equivocation (one validator signing two prevotes in one round) reported the way
/// the node's voter reports it: the key-ownership proof from the historical session roots,
/// the unsigned `report_equivocation_unsigned` accepted by the pool, and on dispatch the
/// offence recorded by `pallet_offences` and announced by the validator set, which removes
/// nobody (that is for governance). A second report of the same offence is refused.
#[test]
fn a_grandpa_equivocation_is_reported_and_recorded_on_chain() {
	use codec::Encode;
	use frame_support::traits::KeyOwnerProofSystem;
	use sp_consensus_grandpa::{AuthorityId, AuthoritySignature, Equivocation, EquivocationProof};
	use sp_core::{crypto::UncheckedFrom, Pair, H256};
	use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
	use sp_runtime::transaction_validity::{
		InvalidTransaction, TransactionSource, TransactionValidityError,
	};

	preset_ext(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET).execute_with(|| {
		frame_system::Pallet::<Runtime>::set_block_number(1);
		let set_id = pallet_grandpa::CurrentSetId::<Runtime>::get();
		let round = 3;
		let offender: AuthorityId = Ed25519Keyring::Bob.public().into();
		let signed = |target: H256| {
			let vote = finality_grandpa::Prevote { target_hash: target, target_number: 1u32 };
			let payload = sp_consensus_grandpa::localized_payload(
				round,
				set_id,
				&finality_grandpa::Message::Prevote(vote.clone()),
			);
			let sig = Ed25519Keyring::Bob.pair().sign(&payload);
			(vote, AuthoritySignature::unchecked_from(sig.0))
		};
		let proof = EquivocationProof::new(
			set_id,
			Equivocation::Prevote(finality_grandpa::Equivocation {
				round_number: round,
				identity: offender.clone(),
				first: signed(H256::repeat_byte(1)),
				second: signed(H256::repeat_byte(2)),
			}),
		);
		// What `GrandpaApi::generate_key_ownership_proof` hands the voter.
		let key_owner_proof = crate::Historical::prove((sp_consensus_grandpa::KEY_TYPE, offender))
			.expect("Bob is in the genesis session's historical root");
		assert_eq!(key_owner_proof.session, 0);
		assert_eq!(key_owner_proof.validator_count, 4);
		// The opaque form the runtime API returns decodes back.
		let opaque = sp_consensus_grandpa::OpaqueKeyOwnershipProof::new(key_owner_proof.encode());
		assert_eq!(opaque.decode::<sp_session::MembershipProof>(), Some(key_owner_proof.clone()));

		let call = pallet_grandpa::Call::<Runtime>::report_equivocation_unsigned {
			equivocation_proof: Box::new(proof.clone()),
			key_owner_proof: key_owner_proof.clone(),
		};
		pallet_grandpa::Pallet::<Runtime>::validate_unsigned(TransactionSource::Local, &call)
			.expect("the pool accepts a locally produced report");

		frame_system::Pallet::<Runtime>::reset_events();
		assert!(pallet_grandpa::Pallet::<Runtime>::report_equivocation_unsigned(
			crate::RuntimeOrigin::none(),
			Box::new(proof),
			key_owner_proof,
		)
		.is_ok());
		let events: Vec<_> =
			frame_system::Pallet::<Runtime>::events().into_iter().map(|r| r.event).collect();
		assert!(
			events.iter().any(|e| matches!(
				e,
				crate::RuntimeEvent::Offences(pallet_offences::Event::Offence { .. })
			)),
			"pallet_offences records the offence: {events:?}"
		);
		let bob: AccountId = Sr25519Keyring::Bob.to_account_id();
		assert!(
			events.iter().any(|e| matches!(e,
				crate::RuntimeEvent::ValidatorSet(pallet_validator_set::Event::OffenceReported {
					offenders, session: 0, ..
				}) if offenders == &vec![bob.clone()])),
			"the validator set announces Bob's offence: {events:?}"
		);
		// Nobody is removed automatically.
		assert!(pallet_validator_set::Validators::<Runtime>::get().contains(&bob));

		// The same offence again is stale for the pool.
		assert_eq!(
			pallet_grandpa::Pallet::<Runtime>::validate_unsigned(TransactionSource::Local, &call),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Stale))
		);
	});
}
