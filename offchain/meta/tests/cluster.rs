//! The meta cluster with its real storage (RocksDB per node) on a simulated network: leader
//! crash and takeover with no acknowledged write lost, a partitioned leader that can no
//! longer acknowledge, a lagging node catching up by snapshot, membership following the
//! chain's set, and the election order following the VRF outputs.

use sp_core::{sr25519, Pair};
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};
use stratos_meta::{
	index::{Command, Inode, NsOp, Response, Signed},
	path::NsPath,
	raft::{
		open_db, reconcile_membership, sim::SimNet, ElectionDriver, FinalizedBlock, LogStore,
		Replica, StateMachine, Timing,
	},
	Error,
};
use tokio::{sync::watch, task::JoinHandle};

const G: [u8; 32] = [0x42; 32];

fn timing() -> Timing {
	Timing {
		heartbeat_ms: 50,
		lease_ms: 300,
		spread_ms: 900,
		write_timeout_ms: 2_000,
		snapshot_every: 40,
		keep_behind_snapshot: 2,
	}
}

fn meta_key(id: u64) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[id as u8; 32])
}

struct Cluster {
	net: SimNet,
	dir: tempfile::TempDir,
	nodes: BTreeMap<u64, (Replica, JoinHandle<()>)>,
	block: watch::Sender<FinalizedBlock>,
	owner: sr25519::Pair,
	nonce: u64,
}

impl Cluster {
	async fn new(ids: &[u64], block: FinalizedBlock) -> Self {
		let (tx, _) = watch::channel(block);
		let mut c = Self {
			net: SimNet::default(),
			dir: tempfile::tempdir().unwrap(),
			nodes: BTreeMap::new(),
			block: tx,
			owner: sr25519::Pair::from_seed(&[200; 32]),
			nonce: 0,
		};
		for id in ids {
			c.start(*id).await;
		}
		let members =
			ids.iter().map(|i| (*i, openraft::BasicNode::new(format!("meta-{i}")))).collect();
		c.nodes[&ids[0]].0.initialize(members).await.unwrap();
		c
	}

	async fn start(&mut self, id: u64) {
		let path = self.dir.path().join(format!("meta-{id}"));
		// A restarted node waits until its previous instance has released the database.
		let deadline = Instant::now() + Duration::from_secs(10);
		let db = loop {
			match open_db(&path) {
				Ok(db) => break db,
				Err(e) if Instant::now() < deadline => {
					let _ = e;
					tokio::time::sleep(Duration::from_millis(50)).await;
				},
				Err(e) => panic!("{e}"),
			}
		};
		let sm = StateMachine::open(db.clone(), G).unwrap();
		let r = Replica::start(id, timing(), self.net.factory(id), LogStore::new(db), sm)
			.await
			.unwrap();
		self.net.register(id, r.raft.clone());
		let driver = ElectionDriver::new(r.clone(), meta_key(id), self.block.subscribe());
		let h = tokio::spawn(driver.run());
		self.nodes.insert(id, (r, h));
	}

	async fn crash(&mut self, id: u64) {
		self.net.unregister(id);
		let (r, h) = self.nodes.remove(&id).unwrap();
		h.abort();
		let _ = h.await;
		r.shutdown().await;
	}

	fn node(&self, id: u64) -> &Replica {
		&self.nodes[&id].0
	}

	/// Waits until every running node agrees on one leader among them.
	async fn leader(&self) -> u64 {
		let deadline = Instant::now() + Duration::from_secs(20);
		loop {
			let leaders: Vec<Option<u64>> = self.nodes.values().map(|(r, _)| r.leader()).collect();
			if let Some(Some(l)) = leaders.first() {
				if leaders.iter().all(|x| *x == Some(*l))
					&& self.nodes.contains_key(l)
					&& self.node(*l).state() == openraft::ServerState::Leader
				{
					return *l;
				}
			}
			assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
	}

	fn mkdir_cmd(&mut self, name: &str) -> Command {
		self.nonce += 1;
		Command::Namespace(Signed::sign(
			&self.owner,
			&G,
			self.nonce,
			NsOp::Mkdir { path: format!("/{name}") },
		))
	}

	async fn mkdir(&mut self, via: u64, name: &str) -> Result<u64, Error> {
		let cmd = self.mkdir_cmd(name);
		let (index, r) = self.node(via).write(cmd).await?;
		assert_eq!(r, Ok(Response::Done));
		Ok(index)
	}

	async fn exists(&self, on: u64, min_index: u64, name: &str) -> bool {
		let owner = self.owner.public().0;
		let path = NsPath::parse(&format!("/{name}")).unwrap();
		self.node(on)
			.read(min_index, |idx| idx.lookup(&owner, &path) == Some(Inode::Dir))
			.await
			.unwrap()
	}

	async fn state_bytes(&self, on: u64, min_index: u64) -> Vec<u8> {
		self.node(on).read(min_index, |idx| codec::Encode::encode(idx.state())).await.unwrap()
	}
}

fn block(n: u8) -> FinalizedBlock {
	FinalizedBlock { number: n as u32, hash: [n; 32] }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_crash_loses_no_acknowledged_write_and_the_node_rejoins() {
	let mut c = Cluster::new(&[1, 2, 3], block(1)).await;
	let leader = c.leader().await;
	let mut acked = Vec::new();
	for i in 0..30 {
		acked.push((format!("d{i}"), c.mkdir(leader, &format!("d{i}")).await.unwrap()));
	}
	c.crash(leader).await;
	let next = c.leader().await;
	assert_ne!(next, leader);
	let last = acked.last().unwrap().1;
	for (name, _) in &acked {
		assert!(c.exists(next, last, name).await, "{name} acknowledged before the crash is kept");
	}
	// The new leader takes writes; a follower reads its own writes (read-your-writes).
	let idx = c.mkdir(next, "after").await.unwrap();
	let follower = *c.nodes.keys().find(|k| **k != next).unwrap();
	assert!(c.exists(follower, idx, "after").await);
	// Writes to a follower are refused with the leader's id.
	let cmd = c.mkdir_cmd("via-follower");
	assert_eq!(
		c.node(follower).write(cmd).await.unwrap_err(),
		Error::NotLeader { leader: Some(next) }
	);
	// The crashed node restarts from its own database and catches up.
	c.start(leader).await;
	assert!(c.exists(leader, idx, "after").await);
	assert_eq!(c.state_bytes(leader, idx).await, c.state_bytes(next, idx).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_cannot_acknowledge_and_the_majority_goes_on() {
	let mut c = Cluster::new(&[1, 2, 3], block(2)).await;
	let old = c.leader().await;
	let before = c.mkdir(old, "before").await.unwrap();
	for id in [1, 2, 3] {
		assert!(c.exists(id, before, "before").await);
	}
	c.net.isolate(old);
	// The cut-off leader cannot reach a majority: the write is not acknowledged.
	let e = c.mkdir(old, "lost").await.unwrap_err();
	assert!(matches!(e, Error::Raft(_)), "{e}");
	// The majority elects a new leader and acknowledges writes.
	let others: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != old).collect();
	let deadline = Instant::now() + Duration::from_secs(20);
	let new = loop {
		if let Some(l) =
			others.iter().find(|i| c.node(**i).state() == openraft::ServerState::Leader)
		{
			break *l;
		}
		assert!(Instant::now() < deadline, "the majority elected no leader");
		tokio::time::sleep(Duration::from_millis(20)).await;
	};
	let idx = c.mkdir(new, "majority").await.unwrap();
	c.net.heal();
	let leader = c.leader().await;
	assert_ne!(leader, old, "the stale node's log is behind, so it cannot win");
	let idx = idx.max(c.mkdir(leader, "healed").await.unwrap());
	for id in [1, 2, 3] {
		assert!(c.exists(id, idx, "majority").await);
		assert!(c.exists(id, idx, "healed").await);
		assert!(!c.exists(id, idx, "lost").await, "node {id}: the unacknowledged write is gone");
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_catches_up_by_snapshot() {
	let mut c = Cluster::new(&[1, 2, 3], block(3)).await;
	let leader = c.leader().await;
	let lagging = *c.nodes.keys().find(|k| **k != leader).unwrap();
	c.net.isolate(lagging);
	let mut last = 0;
	for i in 0..150 {
		last = c.mkdir(leader, &format!("s{i}")).await.unwrap();
	}
	// The leader snapshotted and purged the log the lagging node would need.
	let deadline = Instant::now() + Duration::from_secs(20);
	while c.node(leader).raft.metrics().borrow().purged.map(|p| p.index).unwrap_or(0) < 100 {
		assert!(Instant::now() < deadline, "the leader never purged its log");
		tokio::time::sleep(Duration::from_millis(20)).await;
	}
	c.net.heal();
	assert!(c.exists(lagging, last, "s149").await);
	let m = c.node(lagging).raft.metrics().borrow().clone();
	assert!(m.snapshot.is_some(), "caught up from a snapshot: {m:?}");
	assert_eq!(c.state_bytes(lagging, last).await, c.state_bytes(leader, last).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_follows_the_chains_meta_set() {
	let mut c = Cluster::new(&[1, 2, 3], block(4)).await;
	let leader = c.leader().await;
	let idx = c.mkdir(leader, "m").await.unwrap();
	// The chain admits meta node 4: it joins, observes, then votes.
	c.start(4).await;
	let want = |ids: &[u64]| {
		ids.iter().map(|i| (*i, openraft::BasicNode::new(format!("meta-{i}")))).collect()
	};
	assert!(reconcile_membership(c.node(leader), &want(&[1, 2, 3, 4])).await.unwrap());
	assert!(
		!reconcile_membership(c.node(leader), &want(&[1, 2, 3, 4])).await.unwrap(),
		"no change"
	);
	assert!(c.exists(4, idx, "m").await);
	let voters = |c: &Cluster, on: u64| -> Vec<u64> {
		c.node(on).raft.metrics().borrow().membership_config.membership().voter_ids().collect()
	};
	assert_eq!(voters(&c, leader), vec![1, 2, 3, 4]);
	// The chain drops one member that is not the leader: it leaves the cluster.
	let gone = *[1u64, 2, 3].iter().find(|i| **i != leader).unwrap();
	let rest: Vec<u64> = [1u64, 2, 3, 4].into_iter().filter(|i| *i != gone).collect();
	assert!(reconcile_membership(c.node(leader), &want(&rest)).await.unwrap());
	assert_eq!(voters(&c, leader), rest);
	let idx = c.mkdir(leader, "after-change").await.unwrap();
	assert!(c.exists(4, idx, "after-change").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_with_the_larger_vrf_output_takes_over() {
	// Find a finalized block over which the two followers' standing delays are far apart,
	// so the order (not a race) decides. Node 1 is initialised and leads first.
	let t = timing();
	let delay = |id: u64, term: u64, b: FinalizedBlock| {
		let input = stratos_meta::election::ElectionInput {
			term,
			block_number: b.number,
			block_hash: b.hash,
		};
		let out = stratos_meta::election::evaluate(&meta_key(id), &input).output;
		stratos_meta::election::election_delay(&out, t.lease_ms + t.heartbeat_ms, t.spread_ms)
	};
	let mut c = Cluster::new(&[1, 2, 3], block(5)).await;
	let leader = c.leader().await;
	let term = c.node(leader).raft.metrics().borrow().current_term;
	let followers: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != leader).collect();
	let chosen = (10..=255u8)
		.map(block)
		.find(|b| {
			delay(followers[0], term + 1, *b).abs_diff(delay(followers[1], term + 1, *b)) >= 400
		})
		.expect("some block separates the two");
	c.block.send(chosen).unwrap();
	let expected = *followers.iter().min_by_key(|f| delay(**f, term + 1, chosen)).unwrap();
	c.mkdir(leader, "x").await.unwrap();
	c.crash(leader).await;
	assert_eq!(c.leader().await, expected, "the larger VRF output stands first and wins");
}
