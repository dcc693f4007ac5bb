//! The replicated index as a state machine: namespaces, placements, completions with signed
//! store acknowledgements, tickets within reserved credit, deletes, and every refusal.

mod common;
use common::*;

#[test]
fn upload_is_placed_acknowledged_and_visible_once_recorded() {
	let mut w = World::new(5);
	w.ns(NsOp::Mkdir { path: "/docs/2026".into() }).unwrap();
	let owner = w.owner_acct();
	assert_eq!(w.idx.lookup(&owner, &p("/docs")), Some(Inode::Dir), "parents are created");

	let auth = w.place("/docs/2026/a.bin", 40 * MIB).unwrap();
	assert_eq!(auth.holders.len(), 3);
	assert_eq!(auth.issuer, w.meta_key);
	let regions: std::collections::BTreeSet<_> = auth
		.holders
		.iter()
		.map(|h| {
			w.idx.state().chain.resource_nodes.iter().find(|n| n.id == *h).unwrap().region.clone()
		})
		.collect();
	assert_eq!(regions.len(), 3, "three regions are available, so the copies are offsite");

	// The owner placing the same path again (a retry after a failed upload) replaces this
	// placement: the first one can no longer complete.
	let slices = slices_of(40 * MIB, 7);
	let first = auth;
	let auth = w.place("/docs/2026/a.bin", 40 * MIB).unwrap();
	assert_ne!(auth.task, first.task);
	let acks = w.acks(&first, &slices);
	let hashes: Vec<SliceHash> = slices.iter().map(|s| s.0).collect();
	assert!(matches!(
		w.apply(Command::Complete { task: first.task, slices: hashes, acks }),
		Err(Error::UnknownUpload(_))
	));

	let acks = w.acks(&auth, &slices);
	let hashes: Vec<SliceHash> = slices.iter().map(|s| s.0).collect();
	let rec =
		match w.apply(Command::Complete { task: auth.task, slices: hashes.clone(), acks }).unwrap()
		{
			Response::Completed(r) => r,
			r => panic!("{r:?}"),
		};
	let expected_id = FileId(merkle::root_of(slices.iter().map(|(h, l)| (*l, h.0))));
	assert_eq!(rec.file_id, expected_id, "the file id is the Merkle root over the slices");
	assert_eq!(rec.status, FileStatus::Voting);
	assert_eq!(rec.holders, auth.holders);
	// Not visible until the chain recorded it.
	assert_eq!(w.idx.lookup(&owner, &p("/docs/2026/a.bin")), None);
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 12 }).unwrap();
	assert_eq!(w.idx.lookup(&owner, &p("/docs/2026/a.bin")), Some(Inode::File(rec.file_id)));
	assert_eq!(
		w.idx.list(&owner, &p("/docs/2026")).unwrap(),
		vec![("a.bin".to_string(), Inode::File(rec.file_id))]
	);
	let f = w.idx.file_at(&owner, &p("/docs/2026/a.bin")).unwrap();
	assert_eq!((f.status, f.links, f.slice_len(2)), (FileStatus::OnChain(12), 1, 8 * MIB));
	// Every holder now holds every slice.
	for h in &auth.holders {
		assert_eq!(w.idx.state().node_slices[h].len(), 3);
	}
}

#[test]
fn forged_missing_or_misdirected_acks_are_refused_and_change_nothing() {
	let mut w = World::new(4);
	w.ns(NsOp::Mkdir { path: "/d".into() }).unwrap();
	let auth = w.place("/d/f", 20 * MIB).unwrap();
	let slices = slices_of(20 * MIB, 1);
	let hashes: Vec<SliceHash> = slices.iter().map(|s| s.0).collect();
	let good = w.acks(&auth, &slices);
	let before = w.idx.state().encode();

	let mut forged = good.clone();
	forged[0].ack.length += 1;
	let mut missing = good.clone();
	missing.pop();
	let outsider = *w.nodes.iter().find(|k| !auth.holders.contains(&nid(k))).unwrap();
	let mut misdirected = good.clone();
	let ack = StoreAck { node: nid(&outsider), ..good[0].ack };
	misdirected[0] = SignedStoreAck { ack, signature: outsider.sign(&ack.payload()).0 };
	let mut other_chain = good.clone();
	let ack = StoreAck { genesis_hash: [0; 32], ..good[1].ack };
	other_chain[1] = SignedStoreAck { ack, signature: w.key_of(&ack.node).sign(&ack.payload()).0 };

	for (acks, why) in [
		(forged, "does not verify"),
		(missing, "no valid acknowledgement"),
		(misdirected, "another owner or holder"),
		(other_chain, "does not verify"),
	] {
		let e = w
			.apply(Command::Complete { task: auth.task, slices: hashes.clone(), acks })
			.unwrap_err();
		assert!(e.to_string().contains(why), "{e}");
		assert_eq!(w.idx.state().encode(), before, "a refused completion changes nothing");
	}
	// Wrong slice count.
	let e = w
		.apply(Command::Complete {
			task: auth.task,
			slices: hashes[..1].to_vec(),
			acks: good.clone(),
		})
		.unwrap_err();
	assert!(matches!(e, Error::UploadMismatch(_)), "{e}");
	// Unknown task.
	let e = w
		.apply(Command::Complete {
			task: Default::default(),
			slices: hashes.clone(),
			acks: good.clone(),
		})
		.unwrap_err();
	assert!(matches!(e, Error::UnknownUpload(_)), "{e}");
	assert!(w.apply(Command::Complete { task: auth.task, slices: hashes, acks: good }).is_ok());
}

#[test]
fn namespace_writes_must_be_signed_fresh_and_well_formed() {
	let mut w = World::new(3);
	// Signed by someone else than the account it names.
	let mut req = w.signed(&w.owner.clone(), NsOp::Mkdir { path: "/a".into() });
	req.account = w.client.public().0;
	assert_eq!(w.apply(Command::Namespace(req)).unwrap_err(), Error::BadSignature);
	// A replay.
	let req = w.signed(&w.owner.clone(), NsOp::Mkdir { path: "/a".into() });
	w.apply(Command::Namespace(req.clone())).unwrap();
	let replay = w.apply(Command::Namespace(req)).unwrap_err();
	assert!(matches!(replay, Error::StaleNonce { .. }));
	// The client recognises the refusal (and signs such a request again) and nothing else.
	assert!(sds_client::is_stale_nonce(&replay.to_string()), "{replay}");
	assert!(!sds_client::is_stale_nonce(&Error::BadSignature.to_string()));
	// Traversal, empty and huge names, control characters.
	for bad in ["/a/../etc", "relative", "/a/\u{0}", &format!("/{}", "n".repeat(300))] {
		let e = w.ns(NsOp::Mkdir { path: bad.to_string() }).unwrap_err();
		assert!(matches!(e, Error::BadPath(_)), "{bad:?}: {e}");
	}
	// mkdir of an existing directory is a no-op (`mkdir -p`); of a file's path an error.
	assert_eq!(w.ns(NsOp::Mkdir { path: "/a".into() }), Ok(Response::Done));
	assert!(matches!(
		w.ns(NsOp::Rm { path: "/".into(), recursive: true }).unwrap_err(),
		Error::Invalid(_)
	));
	assert!(matches!(
		w.ns(NsOp::Rm { path: "/nope".into(), recursive: false }).unwrap_err(),
		Error::NotFound(_)
	));
	// Nothing of the refused writes is visible.
	let owner = w.owner_acct();
	assert_eq!(w.idx.list(&owner, &NsPath::root()).unwrap(), vec![("a".to_string(), Inode::Dir)]);
}

#[test]
fn mv_and_rm_move_and_remove_subtrees() {
	let mut w = World::new(3);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/a/b".into() }).unwrap();
	let rec = w.upload("/a/b/f", MIB, 9);
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 11 }).unwrap();
	w.ns(NsOp::Mkdir { path: "/z".into() }).unwrap();
	assert!(matches!(
		w.ns(NsOp::Mv { from: "/a".into(), to: "/a/b/c".into() }).unwrap_err(),
		Error::Invalid(_)
	));
	assert!(matches!(
		w.ns(NsOp::Mv { from: "/a".into(), to: "/q/r".into() }).unwrap_err(),
		Error::NotFound(_)
	));
	w.ns(NsOp::Mv { from: "/a".into(), to: "/z/a2".into() }).unwrap();
	assert_eq!(w.idx.lookup(&owner, &p("/a/b/f")), None);
	assert_eq!(w.idx.lookup(&owner, &p("/z/a2/b/f")), Some(Inode::File(rec.file_id)));
	assert!(matches!(
		w.ns(NsOp::Rm { path: "/z".into(), recursive: false }).unwrap_err(),
		Error::NotEmpty(_)
	));
	assert_eq!(
		w.ns(NsOp::Rm { path: "/z".into(), recursive: true }).unwrap(),
		Response::Removed(vec![rec.file_id]),
		"the file has no path left: the owner may delete it on chain"
	);
	assert_eq!(w.idx.list(&owner, &NsPath::root()).unwrap(), vec![]);
}

#[test]
fn tickets_stay_within_reserved_credit_and_name_verifiable_holders() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/m".into() }).unwrap();
	let rec = w.upload("/m/movie", 48 * MIB, 3);
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 11 }).unwrap();
	let client = w.client.clone();
	let ask = |w: &mut World, reserved: u128, slices: Vec<u32>, avoid: Vec<NodeId>| {
		let req = w.signed(
			&client,
			TicketRequest { owner, path: "/m/movie".into(), slices, avoid, attempt: 0 },
		);
		w.apply(Command::Tickets {
			req,
			reserved,
			reserve_unlocks_at: 1_000,
			issuer: NodeId([0xee; 32]),
		})
	};
	// No reservation: a clear error that says how to get one.
	let e = ask(&mut w, 0, vec![], vec![]).unwrap_err();
	assert!(e.to_string().contains("sds credit reserve"), "{e}");
	assert!(w.idx.state().tickets.is_empty(), "nothing outstanding after a refusal");

	let log_index = w.log + 1;
	let tickets = match ask(&mut w, 64 * MIB as u128, vec![], vec![]).unwrap() {
		Response::Tickets(t) => t,
		r => panic!("{r:?}"),
	};
	assert_eq!(tickets.len(), 3);
	let view = w.idx.state().chain.clone();
	for t in &tickets {
		// Auditors recompute task id and holder from the log and the chain.
		assert_eq!(t.task, meta::task_id(log_index, &client.public().0, &t.slice, 0));
		assert_eq!(Some(t.holder), meta::ticket_holder(&t.task, &view.hash, &rec.holders));
		assert_eq!((t.ledger_period, t.offset, t.length), (1, 0, 16 * MIB));
		assert!(t.expires_at > view.number && t.expires_at <= 1_000 - RESERVATION_MARGIN_BLOCKS);
	}
	assert_eq!(w.idx.outstanding(&client.public().0), 48 * MIB as u128);
	// Only 16 MiB of the reservation is left.
	let e = ask(&mut w, 64 * MIB as u128, vec![0, 1], vec![]).unwrap_err();
	assert_eq!(e, Error::NoCredit { need: 32 * MIB as u128, available: 16 * MIB as u128 });
	// A reservation whose lock ends within the margin backs nothing, and the error says
	// how to extend it.
	let now = w.idx.state().chain.number;
	let req = w.signed(
		&client,
		TicketRequest {
			owner,
			path: "/m/movie".into(),
			slices: vec![2],
			avoid: vec![],
			attempt: 0,
		},
	);
	let e = w
		.apply(Command::Tickets {
			req,
			reserved: 64 * MIB as u128,
			reserve_unlocks_at: now + RESERVATION_MARGIN_BLOCKS,
			issuer: NodeId([0xee; 32]),
		})
		.unwrap_err();
	assert_eq!(
		e,
		Error::ReservationEnding {
			reserved: 64 * MIB as u128,
			unlocks_at: now + RESERVATION_MARGIN_BLOCKS,
			now
		}
	);
	assert!(e.to_string().contains("reserve again"), "{e}");
	// A fallback avoids the failed holder.
	let failed = tickets[0].holder;
	match ask(&mut w, 64 * MIB as u128, vec![0], vec![failed]).unwrap() {
		Response::Tickets(t) => assert_ne!(t[0].holder, failed),
		r => panic!("{r:?}"),
	}
	// The failed holder counts an error (the client was sent to it); a node the client was
	// never sent to cannot be blamed.
	let errors = |w: &World, n: &NodeId| w.idx.state().health[n].recent_errors;
	let stranger =
		w.idx.state().chain.resource_nodes.iter().map(|n| n.id).find(|n| !rec.holders.contains(n));
	let (failed_errors, stranger_errors) = (errors(&w, &failed), stranger.map(|s| errors(&w, &s)));
	let req = w.signed(
		&client,
		TicketRequest {
			owner,
			path: "/m/movie".into(),
			slices: vec![0],
			avoid: [vec![failed], stranger.into_iter().collect()].concat(),
			attempt: 1,
		},
	);
	w.apply(Command::Tickets {
		req,
		reserved: u128::MAX,
		reserve_unlocks_at: 1_000,
		issuer: NodeId([0xee; 32]),
	})
	.unwrap();
	assert_eq!(errors(&w, &failed), failed_errors + 1);
	assert_eq!(stranger.map(|s| errors(&w, &s)), stranger_errors);
	// Out-of-range slice.
	assert!(matches!(ask(&mut w, u128::MAX, vec![9], vec![]).unwrap_err(), Error::Invalid(_)));
	// Expired tickets free the credit once the chain passes them.
	w.chain(tickets[0].expires_at + 1);
	assert_eq!(w.idx.outstanding(&client.public().0), 0);
}

#[test]
fn shared_slices_are_dropped_only_with_their_last_file() {
	let mut w = World::new(3);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/s".into() }).unwrap();
	// Both files start with the same 16 MiB slice (seed 5); with 3 nodes both use all three.
	let a = w.upload("/s/a", 32 * MIB, 5);
	let b = w.upload("/s/b", 20 * MIB, 5);
	assert_eq!(a.slices[0], b.slices[0]);
	for f in [&a, &b] {
		w.apply(Command::Recorded { owner, file_id: f.file_id, block: 11 }).unwrap();
	}
	let orders = match w.apply(Command::Dropped { owner, file_id: a.file_id }).unwrap() {
		Response::DeleteOrders(o) => o,
		r => panic!("{r:?}"),
	};
	assert_eq!(orders.len(), 3);
	for (_, slices) in &orders {
		assert_eq!(slices, &vec![a.slices[1]], "the shared slice stays for file b");
	}
	assert_eq!(w.idx.lookup(&owner, &p("/s/a")), None);
	let orders = match w.apply(Command::Dropped { owner, file_id: b.file_id }).unwrap() {
		Response::DeleteOrders(o) => o,
		r => panic!("{r:?}"),
	};
	for (_, slices) in &orders {
		let mut want = vec![b.slices[0], b.slices[1]];
		want.sort();
		assert_eq!(slices, &want);
	}
	assert!(w.idx.state().node_slices.is_empty());
}

#[test]
fn routing_skips_silent_suspended_and_unknown_nodes() {
	let mut w = World::new(4);
	w.ns(NsOp::Mkdir { path: "/r".into() }).unwrap();
	// Node 0 goes silent: the others beat again much later.
	for i in 1..4 {
		w.beat(i, 1_000 + HEALTH_TIMEOUT_MS + 1);
	}
	let silent = nid(&w.nodes[0]);
	assert!(!w.idx.is_healthy(&silent));
	let auth = w.place("/r/x", MIB).unwrap();
	assert!(!auth.holders.contains(&silent));
	// Suspend node 1 on chain: only two candidates are left.
	let mut view = w.idx.state().chain.clone();
	view.number += 1;
	view.resource_nodes[1].active = false;
	w.apply(Command::Chain(view)).unwrap();
	let e = w.place("/r/y", MIB).unwrap_err();
	assert_eq!(e, Error::NotEnoughNodes { need: 3, have: 2 });
	// Heartbeats from a node the chain does not know are refused.
	let stranger = ed25519::Pair::from_seed(&[77; 32]);
	let beat = Heartbeat {
		node: nid(&stranger),
		free: 1,
		capacity: 1,
		connections: 0,
		errors: 0,
		version: String::new(),
	};
	assert!(matches!(w.apply(Command::Heartbeat { now_ms: 1, beat }), Err(Error::UnknownNode(_))));
	// The owner's balance must cover the first storage period.
	let owner = w.owner.clone();
	let req = w.signed(
		&owner,
		PlaceRequest { path: "/r/z".into(), size: 1, slice_size: 16 * MIB, replicas: 3 },
	);
	assert_eq!(
		w.apply(Command::Place { req, now_ms: 5, balance_ok: false, issuer: w.meta_key })
			.unwrap_err(),
		Error::InsufficientBalance
	);
}

#[test]
fn placements_lapse_after_their_ttl() {
	let mut w = World::new(3);
	w.ns(NsOp::Mkdir { path: "/t".into() }).unwrap();
	let auth = w.place("/t/x", MIB).unwrap();
	match w.apply(Command::Tick { now_ms: 2_000 + UPLOAD_TTL_MS + 1 }).unwrap() {
		Response::Expired(t) => assert_eq!(t, vec![auth.task]),
		r => panic!("{r:?}"),
	}
	let slices = slices_of(MIB, 1);
	let acks = w.acks(&auth, &slices);
	let e = w
		.apply(Command::Complete { task: auth.task, slices: vec![slices[0].0], acks })
		.unwrap_err();
	assert!(matches!(e, Error::UnknownUpload(_)));
}

#[test]
fn replicas_applying_the_same_log_agree_and_snapshots_restore() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/x".into() }).unwrap();
	for i in 0..5u8 {
		let r = w.upload(&format!("/x/f{i}"), (i as u64 + 1) * 10 * MIB, i * 16);
		w.apply(Command::Recorded { owner, file_id: r.file_id, block: 20 }).unwrap();
	}
	// Refused entries are part of the log too.
	assert!(matches!(w.ns(NsOp::Mkdir { path: "/x/f0".into() }), Err(Error::WrongKind(_))));
	// Replay the same log on a second replica: the same answers and the same state, byte for
	// byte.
	let mut replica = Index::new(G);
	for (i, cmd, r) in &w.history {
		assert_eq!(&replica.apply(*i, cmd), r, "entry {i}");
	}
	assert_eq!(replica.state().encode(), w.idx.state().encode());
	let state = w.idx.state().clone();
	let restored = Index::from_state(G, State::decode_from(&state.encode()));
	assert_eq!(restored.state(), w.idx.state());
	for i in 0..5 {
		let path = p(&format!("/x/f{i}"));
		assert_eq!(restored.lookup(&owner, &path), w.idx.lookup(&owner, &path));
	}
	assert_eq!(restored.lookup(&owner, &p("/x/none")), None);
}

trait DecodeFrom: Sized {
	fn decode_from(b: &[u8]) -> Self;
}
impl DecodeFrom for State {
	fn decode_from(b: &[u8]) -> Self {
		<State as codec::Decode>::decode(&mut &b[..]).unwrap()
	}
}

#[test]
fn holders_learn_what_became_of_their_uploads_and_nobody_else_does() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/u".into() }).unwrap();
	let auth = w.place("/u/f", 20 * MIB).unwrap();
	let holder = auth.holders[0];
	let outsider = w.nodes.iter().map(nid).find(|n| !auth.holders.contains(n)).unwrap();
	assert_eq!(w.idx.upload_fate(&auth.task, &holder), UploadFate::Pending);
	assert_eq!(w.idx.upload_fate(&auth.task, &outsider), UploadFate::Unknown);

	let slices = slices_of(20 * MIB, 3);
	let acks = w.acks(&auth, &slices);
	let hashes: Vec<SliceHash> = slices.iter().map(|s| s.0).collect();
	let rec =
		match w.apply(Command::Complete { task: auth.task, slices: hashes.clone(), acks }).unwrap()
		{
			Response::Completed(r) => r,
			r => panic!("{r:?}"),
		};
	let UploadFate::Completed(m) = w.idx.upload_fate(&auth.task, &holder) else {
		panic!("a holder learns the file")
	};
	assert_eq!(
		(m.owner, m.file_id, m.size, &m.slices, m.path.as_str()),
		(owner, rec.file_id, 20 * MIB, &hashes, "/u/f")
	);
	assert!(m.is_consistent(), "the manifest hashes to the file id");
	assert_eq!(w.idx.upload_fate(&auth.task, &outsider), UploadFate::Unknown);

	// A placement that lapses is unknown to everyone: its holders may drop what they took.
	let lapsed = w.place("/u/g", MIB).unwrap();
	w.apply(Command::Tick { now_ms: 2_000 + 2 * 3_600_000 }).unwrap();
	assert_eq!(w.idx.upload_fate(&lapsed.task, &lapsed.holders[0]), UploadFate::Unknown);
	// Once the file is gone, so is what its upload became.
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 11 }).unwrap();
	w.apply(Command::Dropped { owner, file_id: rec.file_id }).unwrap();
	assert_eq!(w.idx.upload_fate(&auth.task, &holder), UploadFate::Unknown);
}

#[test]
fn an_index_rebuilt_from_manifests_serves_the_files_again() {
	let mut w = World::new(4);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/r/deep".into() }).unwrap();
	let a = w.upload("/r/deep/a", 40 * MIB, 1);
	let b = w.upload("/r/b", 10 * MIB, 2);
	for f in [&a, &b] {
		w.apply(Command::Recorded { owner, file_id: f.file_id, block: 11 }).unwrap();
	}
	let manifest = |f: &FileRecord, path: &str| meta::FileManifest {
		owner,
		file_id: f.file_id,
		size: f.size,
		slice_size: f.slice_size,
		slices: f.slices.clone(),
		path: path.into(),
	};
	let restored = |f: &FileRecord, path: &str| RestoredFile {
		manifest: manifest(f, path),
		holders: f.holders.clone(),
		block: 30,
	};

	// Every meta node lost its disk: a fresh index, the same chain.
	let before = w.idx.state().clone();
	let mut fresh = World::new(4);
	fresh.owner = w.owner.clone();
	let mut forged = restored(&b, "/r/forged");
	forged.manifest.slices.reverse();
	forged.manifest.file_id = FileId([9; 32]);
	let r = fresh
		.apply(Command::Restore(vec![restored(&a, "/r/deep/a"), restored(&b, "/r/b"), forged]))
		.unwrap();
	assert_eq!(r, Response::Restored(2), "a manifest that does not hash to its id is skipped");
	for (f, path) in [(&a, "/r/deep/a"), (&b, "/r/b")] {
		assert_eq!(fresh.idx.lookup(&owner, &p(path)), Some(Inode::File(f.file_id)));
		let got = fresh.idx.file_at(&owner, &p(path)).unwrap();
		assert_eq!(
			(&got.slices, &got.holders, got.status),
			(&f.slices, &f.holders, FileStatus::OnChain(30))
		);
	}
	assert_eq!(fresh.idx.state().node_slices, before.node_slices, "holdings are rebuilt too");
	// Restoring again adds nothing; a path taken meanwhile sends the file to /recovered.
	assert_eq!(
		fresh.apply(Command::Restore(vec![restored(&a, "/r/deep/a")])).unwrap(),
		Response::Restored(0)
	);
	let c = w.upload("/r/c", MIB, 3);
	fresh.ns(NsOp::Mkdir { path: "/r/c".into() }).unwrap();
	assert_eq!(
		fresh.apply(Command::Restore(vec![restored(&c, "/r/c")])).unwrap(),
		Response::Restored(1)
	);
	let moved = format!("/recovered/{}", c.file_id);
	assert_eq!(fresh.idx.lookup(&owner, &p(&moved)), Some(Inode::File(c.file_id)));
	assert_eq!(fresh.idx.lookup(&owner, &p("/r/c")), Some(Inode::Dir));
}
