//! What the meta nodes follow: the finalized blocks one by one, and at each of them the node
//! registry, the active meta set, the file registry's events, reservations and balances.
//!
//! Every `*_at` read takes the hash of a finalized block (from [`ChainClient::finalized_head`]
//! or [`ChainClient::subscribe_finalized`]), so a caller reads everything it needs at one
//! block and all replicas that read at that block see the same state.

use crate::{node_from_rt, runtime, ChainClient, Error, FileInfo, Node, Result};
use std::pin::Pin;
use stratos_primitives::FileId;
use subxt::{
	ext::futures::{Stream, StreamExt},
	utils::{AccountId32, H256},
	OnlineClientAtBlock, PolkadotConfig,
};
use subxt_signer::sr25519::Keypair;

/// Bytes in a GiB, as the file registry prices storage (`pallet_node_registry::GIB`).
const GIB: u128 = 1 << 30;

/// The finalized blocks, as (number, hash), in order.
pub type FinalizedStream = Pin<Box<dyn Stream<Item = Result<(u32, [u8; 32])>> + Send>>;

/// A file registry event, as the meta nodes act on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEvent {
	/// A file was recorded (upload complete).
	Created {
		/// The file's owner.
		owner: AccountId32,
		/// The owner's id of the file.
		file_id: FileId,
		/// Bytes of content.
		size: u64,
		/// Resource nodes holding a replica.
		holders: Vec<AccountId32>,
	},
	/// The owner deleted a file: holders may drop it.
	Deleted {
		/// The file's owner.
		owner: AccountId32,
		/// The owner's id of the file.
		file_id: FileId,
	},
	/// The file's storage went unpaid past its grace period: holders may drop it.
	Expired {
		/// The file's owner.
		owner: AccountId32,
		/// The owner's id of the file.
		file_id: FileId,
	},
	/// The meta nodes replaced the file's holders (`vote_set_holders` reached quorum).
	HoldersChanged {
		/// The file's owner.
		owner: AccountId32,
		/// The owner's id of the file.
		file_id: FileId,
		/// The new holders.
		holders: Vec<AccountId32>,
	},
}

/// One of an owner's files as the storage fees see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
	/// The owner's id of the file.
	pub file_id: FileId,
	/// Bytes.
	pub size: u64,
	/// Storage periods before this one are paid.
	pub paid_through: u32,
	/// Its fee per storage period, in plancks.
	pub fee: u128,
}

/// An owner's files and what pays for them ([`ChainClient::storage_account`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageAccount {
	/// The finalized block read.
	pub block: u32,
	/// Its storage period.
	pub period: u32,
	/// Blocks per storage period (0: storage is free).
	pub period_blocks: u32,
	/// Unpaid periods after which a file expires.
	pub grace_periods: u32,
	/// The owner's files.
	pub files: Vec<StoredFile>,
	/// The owner's free balance in plancks.
	pub free: u128,
}

impl StorageAccount {
	/// Fees per storage period for all files.
	pub fn fee_per_period(&self) -> u128 {
		self.files.iter().map(|f| f.fee).sum()
	}

	/// Fees due now (periods before the current one not paid yet).
	pub fn due(&self) -> u128 {
		self.files
			.iter()
			.map(|f| f.fee.saturating_mul(u128::from(self.period.saturating_sub(f.paid_through))))
			.sum()
	}

	/// Storage periods the free balance pays for after what is due (`None`: nothing to pay).
	pub fn periods_covered(&self) -> Option<u128> {
		let per = self.fee_per_period();
		(per > 0).then(|| self.free.saturating_sub(self.due()) / per)
	}
}

/// A block number of this chain (`u32`) from subxt's `u64`.
fn block_number(n: u64) -> Result<u32> {
	u32::try_from(n).map_err(|e| Error::from(subxt::Error::other(e)))
}

impl ChainClient {
	/// The client at block `hash`.
	async fn at(&self, hash: [u8; 32]) -> Result<OnlineClientAtBlock<PolkadotConfig>> {
		Ok(self.api.at_block(H256(hash)).await?)
	}

	/// Number and hash of the latest finalized block.
	pub async fn finalized_head(&self) -> Result<(u32, [u8; 32])> {
		let at = self.api.at_current_block().await?;
		Ok((block_number(at.block_number())?, at.block_hash().0))
	}

	/// The blocks the node finalizes from now on, in order, as (number, hash); it may start
	/// with the block(s) finalized when it was opened. An `Err` item (e.g. blocks missed while
	/// the connection was down) does not end the stream: compare numbers to find gaps.
	pub async fn subscribe_finalized(&self) -> Result<FinalizedStream> {
		let blocks = self.api.stream_blocks().await?;
		Ok(Box::pin(blocks.map(|b| -> Result<(u32, [u8; 32])> {
			let b = b?;
			Ok((block_number(b.number())?, b.hash().0))
		})))
	}

	/// Every registered node (any kind, any status) with its operator, at block `hash`, in
	/// storage order.
	pub async fn nodes_at(&self, hash: [u8; 32]) -> Result<Vec<(AccountId32, Node)>> {
		let at = self.at(hash).await?;
		let mut entries =
			at.storage().entry(runtime::storage().node_registry().nodes())?.iter(()).await?;
		let mut nodes = Vec::new();
		while let Some(kv) = entries.next().await {
			let kv = kv?;
			let (who,) = kv.key()?.decode()?;
			nodes.push((who, node_from_rt(kv.value().decode()?)));
		}
		Ok(nodes)
	}

	/// The active meta nodes (sorted), at block `hash`.
	pub async fn active_meta_at(&self, hash: [u8; 32]) -> Result<Vec<AccountId32>> {
		let at = self.at(hash).await?;
		let v = at
			.storage()
			.entry(runtime::storage().node_registry().active_meta())?
			.fetch(())
			.await?
			.decode()?;
		Ok(v.0)
	}

	/// `who`'s credit reserved for downloads at block `hash`: (bytes, first block the
	/// reservation can be released in); `(0, 0)` without a reservation.
	pub async fn reservation_at(&self, hash: [u8; 32], who: &AccountId32) -> Result<(u128, u32)> {
		let at = self.at(hash).await?;
		let reserved = at
			.storage()
			.entry(runtime::storage().file_registry().reserved())?
			.try_fetch((*who,))
			.await?;
		Ok(match reserved {
			Some(v) => {
				let r = v.decode()?;
				(r.bytes, r.locked_until)
			},
			None => (0, 0),
		})
	}

	/// `who`'s free balance in plancks at block `hash` (`AccountData::free`: holds such as
	/// node deposits are not in it; the existential deposit is).
	pub async fn free_balance_at(&self, hash: [u8; 32], who: &AccountId32) -> Result<u128> {
		let at = self.at(hash).await?;
		let account = at
			.storage()
			.entry(runtime::storage().system().account())?
			.fetch((*who,))
			.await?
			.decode()?;
		Ok(account.data.free)
	}

	/// The storage fee in plancks of a file of `size` bytes for one storage period:
	/// `size · StorageFeePerGiB / GiB`, rounded down, as the file registry charges it.
	pub async fn storage_fee_per_period(&self, size: u64) -> Result<u128> {
		let at = self.api.at_current_block().await?;
		let per_gib =
			at.constants().entry(runtime::constants().file_registry().storage_fee_per_gi_b())?;
		Ok(per_gib.saturating_mul(u128::from(size)) / GIB)
	}

	/// The storage period block `number` (with hash `hash`) is in, and the files whose
	/// storage fees are due (paid through an earlier period), in storage order.
	pub async fn files_due_at(
		&self,
		hash: [u8; 32],
		number: u32,
	) -> Result<(u32, Vec<(AccountId32, FileId)>)> {
		let period = self.storage_period_at(hash, number).await?;
		let at = self.at(hash).await?;
		let mut entries =
			at.storage().entry(runtime::storage().file_registry().files())?.iter(()).await?;
		let mut due = Vec::new();
		while let Some(kv) = entries.next().await {
			let kv = kv?;
			let (owner, file_id) = kv.key()?.decode()?;
			if kv.value().decode()?.paid_through < period {
				due.push((owner, FileId(file_id.0)));
			}
		}
		Ok((period, due))
	}

	/// What `owner` stores and can pay for, at the latest finalized block.
	pub async fn storage_account(&self, owner: &AccountId32) -> Result<StorageAccount> {
		let at = self.api.at_current_block().await?;
		let number = block_number(at.block_number())?;
		let period_blocks = at
			.storage()
			.entry(runtime::storage().file_registry().storage_period())?
			.fetch(())
			.await?
			.decode()?;
		let grace_periods =
			at.constants().entry(runtime::constants().file_registry().grace_periods())?;
		let per_gib =
			at.constants().entry(runtime::constants().file_registry().storage_fee_per_gi_b())?;
		let mut entries =
			at.storage().entry(runtime::storage().file_registry().files())?.iter((*owner,)).await?;
		let mut files = Vec::new();
		while let Some(kv) = entries.next().await {
			let kv = kv?;
			let (_, file_id) = kv.key()?.decode()?;
			let r = kv.value().decode()?;
			files.push(StoredFile {
				file_id: FileId(file_id.0),
				size: r.size,
				paid_through: r.paid_through,
				fee: per_gib.saturating_mul(u128::from(r.size)) / GIB,
			});
		}
		let account = at
			.storage()
			.entry(runtime::storage().system().account())?
			.fetch((*owner,))
			.await?
			.decode()?;
		Ok(StorageAccount {
			block: number,
			period: number.checked_div(period_blocks).unwrap_or(0),
			period_blocks,
			grace_periods,
			files,
			free: account.data.free,
		})
	}

	/// Every file the chain records at block `hash`: (owner, file id, record), in storage
	/// order.
	pub async fn files_at(&self, hash: [u8; 32]) -> Result<Vec<(AccountId32, FileId, FileInfo)>> {
		let at = self.at(hash).await?;
		let mut entries =
			at.storage().entry(runtime::storage().file_registry().files())?.iter(()).await?;
		let mut out = Vec::new();
		while let Some(kv) = entries.next().await {
			let kv = kv?;
			let (owner, file_id) = kv.key()?.decode()?;
			let r = kv.value().decode()?;
			out.push((
				owner,
				FileId(file_id.0),
				FileInfo {
					size: r.size,
					slices: r.slices,
					holders: r.holders.0,
					paid_through: r.paid_through,
				},
			));
		}
		Ok(out)
	}

	/// The storage period block `number` (with hash `hash`) is in.
	pub async fn storage_period_at(&self, hash: [u8; 32], number: u32) -> Result<u32> {
		let at = self.at(hash).await?;
		let len = at
			.storage()
			.entry(runtime::storage().file_registry().storage_period())?
			.fetch(())
			.await?
			.decode()?;
		Ok(number.checked_div(len).unwrap_or(0))
	}

	/// Settles the storage fees of `files` (owner, file id), pipelined: one extrinsic each,
	/// submitted together. One outcome per file, in order.
	pub async fn settle_storage_many(
		&self,
		caller: &Keypair,
		files: &[(AccountId32, FileId)],
	) -> Result<Vec<Result<()>>> {
		let calls: Vec<_> = files
			.iter()
			.map(|(owner, id)| {
				runtime::transactions().file_registry().settle_storage(*owner, crate::rt_file(id))
			})
			.collect();
		Ok(self.submit_pipelined(&calls, caller).await?.into_iter().map(|r| r.map(drop)).collect())
	}

	/// The file registry's `FileCreated`, `FileDeleted`, `FileExpired` and `HoldersChanged`
	/// events in block `hash`, in the order the block emitted them.
	pub async fn file_events_at(&self, hash: [u8; 32]) -> Result<Vec<FileEvent>> {
		use crate::runtime::file_registry::events::{
			FileCreated, FileDeleted, FileExpired, HoldersChanged,
		};
		let at = self.at(hash).await?;
		let events = at.events().fetch().await?;
		let mut out = Vec::new();
		for ev in events.iter() {
			let ev = ev?;
			if let Some(e) = ev.decode_fields_as::<FileCreated>() {
				let e = e?;
				out.push(FileEvent::Created {
					owner: e.owner,
					file_id: FileId(e.file_id.0),
					size: e.size,
					holders: e.holders,
				});
			} else if let Some(e) = ev.decode_fields_as::<FileDeleted>() {
				let e = e?;
				out.push(FileEvent::Deleted { owner: e.owner, file_id: FileId(e.file_id.0) });
			} else if let Some(e) = ev.decode_fields_as::<FileExpired>() {
				let e = e?;
				out.push(FileEvent::Expired { owner: e.owner, file_id: FileId(e.file_id.0) });
			} else if let Some(e) = ev.decode_fields_as::<HoldersChanged>() {
				let e = e?;
				out.push(FileEvent::HoldersChanged {
					owner: e.owner,
					file_id: FileId(e.file_id.0),
					holders: e.holders,
				});
			}
		}
		Ok(out)
	}
}

impl ChainClient {
	/// Changes the signer's node address on chain (`update_node`).
	pub async fn update_node_address(&self, operator: &Keypair, address: &str) -> Result<()> {
		let call = runtime::transactions().node_registry().update_node(
			Some(address.as_bytes().to_vec()),
			None,
			None,
		);
		self.submit(&call, operator).await.map(drop)
	}
}

/// The chain's open report of a period, as a meta node's reporter reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportView {
	/// The meta set when the report opened (sorted).
	pub electorate: Vec<AccountId32>,
	/// Who committed.
	pub commits: Vec<AccountId32>,
	/// Who revealed which digest.
	pub reveals: Vec<(AccountId32, [u8; 32])>,
	/// Commits are taken before this block.
	pub commit_until: u32,
	/// Reveals are taken before this block, once the reveal phase started.
	pub reveal_until: Option<u32>,
	/// The accepted digest and how many chunks of it are in.
	pub stream: Option<([u8; 32], u32)>,
}

/// What the chain's PoT pallet says at one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PotAt {
	/// The lowest period not settled or failed (the one reported or next to open).
	pub next_period: u32,
	/// Its open report, if open.
	pub report: Option<ReportView>,
	/// The open report's frozen chunk size.
	pub chunk_size: Option<u32>,
}

impl ChainClient {
	/// The PoT pallet's report state at block `hash`.
	pub async fn pot_at(&self, hash: [u8; 32]) -> Result<PotAt> {
		let at = self.at(hash).await?;
		let pot = runtime::storage().pot();
		let next_period = at.storage().entry(pot.next_period())?.fetch(()).await?.decode()?;
		let report = match at.storage().entry(pot.reports())?.try_fetch((next_period,)).await? {
			None => None,
			Some(v) => {
				let r = v.decode()?;
				Some(ReportView {
					electorate: r.electorate.0,
					commits: r.commits.0.into_iter().map(|(a, _)| a).collect(),
					reveals: r.reveals.0,
					commit_until: r.commit_until,
					reveal_until: r.reveal_until,
					stream: r.stream.map(|s| (s.digest, s.chunks)),
				})
			},
		};
		let chunk_size = at
			.storage()
			.entry(pot.open_report_params())?
			.try_fetch(())
			.await?
			.map(|v| v.decode())
			.transpose()?
			.map(|f| f.chunk_size);
		Ok(PotAt { next_period, report, chunk_size })
	}

	/// Traffic each node carries into the next report at block `hash` (what is in force:
	/// the carried total if the period that wrote it settled, else what it carried before),
	/// leaving out nodes that carry nothing.
	pub async fn carried_at(
		&self,
		hash: [u8; 32],
	) -> Result<std::collections::BTreeMap<stratos_primitives::NodeId, u128>> {
		let at = self.at(hash).await?;
		let pot = runtime::storage().pot();
		let mut entries = at.storage().entry(pot.rolled())?.iter(()).await?;
		let mut rolled = Vec::new();
		while let Some(kv) = entries.next().await {
			let kv = kv?;
			let (node,) = kv.key()?.decode()?;
			let node: crate::runtime::runtime_types::stratos_primitives::ids::NodeId = node;
			rolled.push((stratos_primitives::NodeId(node.0), kv.value().decode()?));
		}
		let mut settled = std::collections::BTreeMap::new();
		let mut out = std::collections::BTreeMap::new();
		for (node, r) in rolled {
			let r: crate::runtime::runtime_types::pallet_pot::types::RolledTraffic = r;
			let ok = match settled.get(&r.period) {
				Some(ok) => *ok,
				None => {
					let ok = match at.storage().entry(pot.periods())?.try_fetch((r.period,)).await?
					{
						Some(v) => {
							let i: crate::RtPeriodInfo<AccountId32, u128> = v.decode()?;
							matches!(i.status, crate::RtPeriodStatus::Settled)
						},
						None => false,
					};
					settled.insert(r.period, ok);
					ok
				},
			};
			let c = if ok { r.acc } else { r.prev };
			if c > 0 {
				out.insert(node, c);
			}
		}
		Ok(out)
	}
}
