// Connects to a stratos-node with @polkadot/api, reads its metadata, signs a transfer,
// waits for finality and subscribes to finalized heads. Exits non-zero on any failure.
// Usage: node polkadot-js.mjs ws://127.0.0.1:9944
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exit(1); };
const timer = setTimeout(() => fail('timed out after 120 s'), 120_000);

await cryptoWaitReady();
const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, noInitWarn: true });

// Metadata: polkadot-js decodes it and knows our pallets and the token.
const metaVersion = api.runtimeMetadata.version;
if (metaVersion < 14) fail(`metadata version ${metaVersion}`);
for (const pallet of ['system', 'balances', 'referenda', 'validatorSet', 'session', 'nodeRegistry', 'fileRegistry', 'pot']) {
  if (!api.query[pallet]) fail(`pallet ${pallet} missing from metadata`);
}
const props = api.registry.getChainProperties();
if (props.tokenSymbol.unwrap()[0].toString() !== 'STOS') fail('tokenSymbol');
if (props.tokenDecimals.unwrap()[0].toNumber() !== 12) fail('tokenDecimals');
if (api.runtimeVersion.specName.toString() !== 'stratos') fail('specName');

// Sign a transfer Alice -> Charlie and wait until its block is finalized.
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const charlie = keyring.addFromUri('//Charlie');
const before = (await api.query.system.account(charlie.address)).data.free.toBigInt();
const amount = 5n * 10n ** 12n;
const finalizedIn = await new Promise((resolve, reject) => {
  api.tx.balances.transferKeepAlive(charlie.address, amount)
    .signAndSend(alice, ({ status, dispatchError }) => {
      if (dispatchError) reject(new Error(`dispatch error: ${dispatchError.toString()}`));
      if (status.isFinalized) resolve(status.asFinalized.toHex());
    })
    .catch(reject);
}).catch((e) => fail(e.message));
const apiAt = await api.at(finalizedIn);
const after = (await apiAt.query.system.account(charlie.address)).data.free.toBigInt();
if (after - before !== amount) fail(`Charlie received ${after - before}, expected ${amount}`);

// The storage pallets: genesis nodes readable, errors documented, credit bought.
const bob = keyring.addFromUri('//Bob');
const bobNode = (await api.query.nodeRegistry.nodes(bob.address)).unwrap();
if (bobNode.kind.toString() !== 'Resource' || !bobNode.status.isActive) fail(`Bob's node: ${bobNode.toString()}`);
const metas = (await api.query.nodeRegistry.activeMeta()).map((a) => a.toString());
if (!metas.includes(alice.address)) fail(`active meta set ${metas}`);
const docs = api.errors.nodeRegistry.NodeKeyTaken.meta.docs.join(' ');
if (!docs.includes('registered this node key')) fail(`NodeKeyTaken docs: "${docs}"`);
const credit = await new Promise((resolve, reject) => {
  api.tx.fileRegistry.buyCredit(10n ** 13n, 1)
    .signAndSend(charlie, ({ status, events, dispatchError }) => {
      if (dispatchError) reject(new Error(`buyCredit: ${dispatchError.toString()}`));
      if (status.isFinalized) {
        const ev = events.find(({ event }) => api.events.fileRegistry.CreditPurchased.is(event));
        if (!ev) reject(new Error('no CreditPurchased event'));
        else resolve(ev.event.data.credit.toBigInt());
      }
    })
    .catch(reject);
}).catch((e) => fail(e.message));
if (credit <= 0n) fail(`bought ${credit} bytes of credit`);

// Proof-of-Traffic: parameters and per-node / per-account views through storage and the
// runtime API (polkadot-js reads runtime APIs from metadata V15+).
const potParams = await api.query.pot.params();
if (potParams.periodLength.toNumber() <= 0 || potParams.tiers.length === 0) fail(`pot params ${potParams.toString()}`);
if (!api.call.potApi) fail('PotApi runtime API missing from metadata');
const [currentPeriod, nextPeriod] = (await api.call.potApi.periods()).map((x) => x.toNumber());
if (nextPeriod > currentPeriod) fail(`periods ${currentPeriod} ${nextPeriod}`);
const bobRewards = await api.call.potApi.rewards(bob.address);
if (bobRewards.pending === undefined || bobRewards.matured === undefined) fail(`rewards ${bobRewards.toString()}`);
const bobTraffic = await api.call.potApi.nodeTraffic(bobNode.nodeId);
if (bobTraffic.rolled === undefined) fail(`node traffic ${bobTraffic.toString()}`);
const potDocs = api.errors.pot.ChunkMismatch.meta.docs.join(' ');
if (!potDocs.includes('accepted report')) fail(`ChunkMismatch docs: "${potDocs}"`);

// Finalized heads arrive, in increasing order.
const heads = await new Promise((resolve) => {
  const seen = [];
  api.rpc.chain.subscribeFinalizedHeads((h) => {
    seen.push(h.number.toNumber());
    if (seen.length === 3) resolve(seen);
  });
});
for (let i = 1; i < heads.length; i++) if (heads[i] <= heads[i - 1]) fail(`heads ${heads}`);

console.log(JSON.stringify({ ok: true, metadataVersion: metaVersion, finalizedIn, heads, credit: credit.toString() }));
clearTimeout(timer);
await api.disconnect();
process.exit(0);
