//! Resource nodes behind a chain gate (ADR 0011): puts only with a meta node's authorisation,
//! answered with signed store acknowledgements; gets only against a ticket naming the node,
//! within its range and never beyond it; deletes only from a meta node. Every refusal says why
//! and stores or serves nothing.

use sds_core::wire::Hop;
use sds_net::{Error, Gate, Host, HostConfig, Keypair, SignedTicket, SignedUploadAuth};
use sds_store::Store;
use sp_core::{sr25519, Pair};
use std::{
	collections::HashSet,
	sync::{atomic::Ordering, Arc, Mutex},
};
use stratos_primitives::{
	meta::{DownloadTicket, UploadAuth},
	FileId, NodeId, SliceHash, TaskId,
};

const GENESIS: [u8; 32] = [9; 32];

struct TestGate {
	finalized: u32,
	metas: Mutex<HashSet<NodeId>>,
}

impl Gate for TestGate {
	fn finalized(&self) -> u32 {
		self.finalized
	}
	fn is_meta(&self, node: &NodeId) -> bool {
		self.metas.lock().unwrap().contains(node)
	}
}

struct Rn {
	host: Host,
	store: Arc<Store>,
	_dir: tempfile::TempDir,
}

async fn host(key: Keypair, store: Option<Arc<Store>>, gate: Option<Arc<TestGate>>) -> Host {
	let listen =
		if store.is_some() { vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()] } else { vec![] };
	Host::start(HostConfig {
		keypair: key,
		listen,
		store,
		genesis_hash: GENESIS,
		max_concurrent_streams: 16,
		gate: gate.map(|g| g as Arc<dyn Gate>),
		limits: Default::default(),
	})
	.await
	.unwrap()
}

async fn rn(gate: Arc<TestGate>) -> Rn {
	let dir = tempfile::tempdir().unwrap();
	let store = Arc::new(Store::open(dir.path(), 1 << 30).unwrap());
	Rn {
		host: host(Keypair::generate_ed25519(), Some(store.clone()), Some(gate)).await,
		store,
		_dir: dir,
	}
}

fn sign(key: &Keypair, payload: &[u8]) -> [u8; 64] {
	key.sign(payload).unwrap().try_into().unwrap()
}

fn auth(
	meta: &Keypair,
	owner: [u8; 32],
	holders: Vec<NodeId>,
	max_bytes: u64,
	expires_at: u32,
) -> SignedUploadAuth {
	let auth = UploadAuth {
		genesis_hash: GENESIS,
		owner,
		task: TaskId([3; 32]),
		holders,
		max_bytes,
		expires_at,
		issuer: sds_net::node_id(meta),
	};
	SignedUploadAuth { signature: sign(meta, &auth.payload()), auth }
}

async fn put(c: &Host, chain: &[Hop], a: &SignedUploadAuth, d: &[u8]) -> Result<SliceHash, Error> {
	c.put_slice_authorized(
		chain,
		a,
		d.len() as u64,
		|buf, off| {
			buf.copy_from_slice(&d[off as usize..off as usize + buf.len()]);
			Ok(())
		},
		|_| {},
	)
	.await
	.map(|(s, _)| s)
}

fn refused(r: Result<impl std::fmt::Debug, Error>, why: &str) {
	let e = r.expect_err("refused");
	assert!(e.to_string().contains(why), "expected {why:?} in: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_need_an_authorisation_and_return_signed_acks() {
	within(async {
		let meta = Keypair::generate_ed25519();
		let gate = Arc::new(TestGate {
			finalized: 10,
			metas: Mutex::new([sds_net::node_id(&meta)].into()),
		});
		let rns = [rn(gate.clone()).await, rn(gate.clone()).await];
		let chain: Vec<Hop> = rns.iter().map(|r| r.host.hop()).collect();
		let holders: Vec<NodeId> = chain.iter().map(|h| h.node).collect();
		let client = host(Keypair::generate_ed25519(), None, None).await;
		let owner = sr25519::Pair::from_seed(&[5; 32]).public().0;
		let data = vec![7u8; 300_000];

		// Authorised: both nodes store it and sign their acknowledgements, checked by the client.
		let a = auth(&meta, owner, holders.clone(), 1 << 20, 10);
		let (slice, acks) = client
			.put_slice_authorized(
				&chain,
				&a,
				data.len() as u64,
				|b, o| {
					b.copy_from_slice(&data[o as usize..o as usize + b.len()]);
					Ok(())
				},
				|_| {},
			)
			.await
			.unwrap();
		assert_eq!(acks.iter().map(|a| a.ack.node).collect::<Vec<_>>(), holders);
		assert!(acks
			.iter()
			.all(|a| a.verify(&GENESIS) && a.ack.owner == owner && a.ack.slice == slice));

		// Refusals, each with its reason; nothing more is stored.
		let other = vec![8u8; 1000];
		let unauthorised = client
			.put_slice(
				&chain,
				TaskId::default(),
				other.len() as u64,
				|b, o| {
					b.copy_from_slice(&other[o as usize..o as usize + b.len()]);
					Ok(())
				},
				|_| {},
			)
			.await;
		refused(unauthorised, "authorisation or ticket");
		refused(
			put(&client, &chain, &auth(&meta, owner, holders.clone(), 1 << 20, 9), &other).await,
			"expired",
		);
		let stranger = Keypair::generate_ed25519();
		refused(
			put(&client, &chain, &auth(&stranger, owner, holders.clone(), 1 << 20, 10), &other)
				.await,
			"not an active meta node",
		);
		refused(
			put(&client, &chain, &auth(&meta, owner, vec![holders[1]], 1 << 20, 10), &other).await,
			"another resource node",
		);
		let mut forged = auth(&meta, owner, holders.clone(), 1 << 20, 10);
		forged.auth.max_bytes = 1 << 40;
		refused(put(&client, &chain, &forged, &other).await, "signature is invalid");
		// The task's byte budget (1 MiB per node) is spent after 300,000 + 800,000 bytes.
		refused(put(&client, &chain, &a, &vec![1u8; 800_000]).await, "budget");
		for r in &rns {
			assert_eq!(r.store.stats().slices, 1, "only the authorised slice is stored");
		}
		// The chain's first node refused all six (the second never saw them).
		assert_eq!(rns[0].host.metrics().refused_unauthorized.load(Ordering::Relaxed), 6);

		// A slice put again under the same upload (as a client does when the answer to its
		// first put was lost) is stored once and charged once: 300,000 bytes are spent, so
		// 700,000 more still fit in the 1 MiB budget, and a further byte does not.
		assert_eq!(put(&client, &chain, &a, &data).await.unwrap(), slice);
		put(&client, &chain, &a, &vec![2u8; 700_000]).await.unwrap();
		refused(put(&client, &chain, &a, &vec![1u8; 48_577]).await, "budget");
		for r in &rns {
			assert_eq!(r.store.stats().slices, 2);
		}
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_need_a_ticket_for_this_node_range_and_client_and_deletes_a_meta_node() {
	within(async {
		let meta = Keypair::generate_ed25519();
		let gate = Arc::new(TestGate {
			finalized: 10,
			metas: Mutex::new([sds_net::node_id(&meta)].into()),
		});
		let r = rn(gate.clone()).await;
		let other = rn(gate.clone()).await;
		let hop = r.host.hop();
		let client_key = sr25519::Pair::from_seed(&[6; 32]);
		let client = host(Keypair::generate_ed25519(), None, None).await;
		let data = vec![3u8; 200_000];
		let a = auth(&meta, [1; 32], vec![hop.node], 1 << 20, 10);
		let slice = put(&client, std::slice::from_ref(&hop), &a, &data).await.unwrap();

		let ticket = |holder: NodeId, client: [u8; 32], length: u64, expires_at: u32, task: u8| {
			let t = DownloadTicket {
				genesis_hash: GENESIS,
				client,
				owner: [1; 32],
				file_id: FileId([2; 32]),
				slice,
				task: TaskId([task; 32]),
				holder,
				ledger_period: 4,
				offset: 0,
				length,
				expires_at,
				issuer: sds_net::node_id(&meta),
			};
			SignedTicket { signature: sign(&meta, &t.payload()), ticket: t }
		};
		let me = client_key.public().0;
		let get = |t: SignedTicket| {
			let (client, hop, key) = (client.clone(), hop.clone(), client_key.clone());
			async move {
				let mut got = Vec::new();
				client
					.get_slice_ticketed(&hop, &t, 0, t.ticket.length, &key, |_, b| {
						got.extend_from_slice(&b);
						Ok(())
					})
					.await
					.map(|receipt| (receipt, got))
			}
		};
		let good = ticket(hop.node, me, data.len() as u64, 10, 1);
		let (receipt, got) = get(good).await.unwrap();
		assert_eq!(got, data);
		assert_eq!(
			(receipt.receipt.task_id, receipt.receipt.ledger_period),
			(TaskId([1; 32]), 4),
			"the ticket's task and period"
		);
		// A ticket is redeemed once: its bytes are spent.
		refused(get(good).await, "already served");
		refused(
			get(ticket(other.host.node_id(), me, data.len() as u64, 10, 2)).await,
			"another resource node",
		);
		refused(get(ticket(hop.node, me, data.len() as u64, 9, 3)).await, "expired");
		let mut forged = ticket(hop.node, me, 100, 10, 4);
		forged.ticket.length = data.len() as u64;
		refused(get(forged).await, "signature is invalid");
		// Someone else's ticket: only the client named in it can redeem it.
		refused(
			get(ticket(hop.node, [8; 32], data.len() as u64, 10, 5)).await,
			"not signed by the ticket's client",
		);

		// Deletes: refused from anyone but a meta node, done for a meta node.
		refused(client.delete_slices(&hop, vec![slice]).await, "only an active meta node");
		assert_eq!(r.store.stats().slices, 1);
		let meta_host = host(meta, None, None).await;
		assert_eq!(
			meta_host.delete_slices(&hop, vec![slice, SliceHash([0; 32])]).await.unwrap(),
			1
		);
		assert_eq!(r.store.stats().slices, 0);
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_orders_come_only_from_a_meta_node_and_return_the_targets_acks() {
	within(async {
		let meta = Keypair::generate_ed25519();
		let gate = Arc::new(TestGate {
			finalized: 10,
			metas: Mutex::new([sds_net::node_id(&meta)].into()),
		});
		let (source, target) = (rn(gate.clone()).await, rn(gate.clone()).await);
		let owner = sr25519::Pair::from_seed(&[5; 32]).public().0;
		let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
		let len = data.len() as u64;
		let meta_host = host(meta.clone(), None, None).await;
		let slice = put(
			&meta_host,
			&[source.host.hop()],
			&auth(&meta, owner, vec![source.host.node_id()], len, 10),
			&data,
		)
		.await
		.unwrap();
		let order = auth(&meta, owner, vec![target.host.node_id()], 2 * len, 10);
		let timeout = std::time::Duration::from_secs(30);

		// Not from a meta node: refused, nothing copied.
		let stranger = host(Keypair::generate_ed25519(), None, None).await;
		refused(
			stranger
				.order_copy(
					&source.host.hop(),
					&order,
					target.host.hop(),
					vec![(slice, len)],
					timeout,
				)
				.await,
			"only an active meta node may order a copy",
		);
		// An authorisation that does not name the target: refused.
		let wrong = auth(&meta, owner, vec![source.host.node_id()], 2 * len, 10);
		refused(
			meta_host
				.order_copy(
					&source.host.hop(),
					&wrong,
					target.host.hop(),
					vec![(slice, len)],
					timeout,
				)
				.await,
			"addressed to another resource node",
		);
		// A slice the source does not hold: refused.
		refused(
			meta_host
				.order_copy(
					&source.host.hop(),
					&order,
					target.host.hop(),
					vec![(SliceHash([1; 32]), len)],
					timeout,
				)
				.await,
			"is not stored here",
		);
		assert!(target.store.meta(&slice).unwrap().is_none());

		// From the meta node: the source streams its verified copy, the target stores it and
		// signs; the acknowledgements are checked by the meta node.
		let acks = meta_host
			.order_copy(&source.host.hop(), &order, target.host.hop(), vec![(slice, len)], timeout)
			.await
			.unwrap();
		assert_eq!(acks.len(), 1);
		assert_eq!(
			(acks[0].ack.node, acks[0].ack.slice, acks[0].ack.length),
			(target.host.node_id(), slice, len)
		);
		assert!(acks[0].verify(&GENESIS));
		assert_eq!(target.store.read_all(&slice).unwrap(), data);
		assert_eq!(source.host.metrics().snapshot().slices_copied, 1);
		// The target keeps it pending under the copy's task until the meta nodes confirm.
		assert!(target
			.store
			.pending()
			.unwrap()
			.iter()
			.any(|(t, p)| *t == order.auth.task && p.slices == vec![slice]));
	})
	.await
}

/// Every network test has an outer deadline: a hang fails the test instead of the CI run.
async fn within(test: impl std::future::Future<Output = ()>) {
	tokio::time::timeout(std::time::Duration::from_secs(60), test)
		.await
		.expect("the test did not finish within 60 s")
}
