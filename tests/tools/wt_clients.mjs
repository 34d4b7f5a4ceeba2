// tests/tools/wt_clients.mjs: two clients of npm's bittorrent-tracker
// (tests/integration/net_bt_tracker.sh; run from the directory where it
// was npm-installed) announce one torrent to a WebSocket tracker:
//
//   node wt_clients.mjs ws://HOST:PORT INFO_HASH_HEX
//
// Client A announces first, then client B; each sends 5 offers. Prints one
// JSON line per event: ["update", "A", complete, incomplete] for each
// announce answer, ["offer", "A", from_peer_hex, sdp] when the tracker
// relays B's offer to A, ["answer", "B", from_peer_hex, sdp] when A's answer
// comes back to B through the tracker, ["warning", who, message] for each
// warning (a failure reason), and exits 0 once B has its answer (1 after 20 s).
//
// Node has no WebRTC here (node-datachannel, bittorrent-tracker's, builds
// only with github.com reachable: install with --ignore-scripts), so a
// stand-in replaces simple-peer's peer: as
// an initiator it signals an offer at once, and given an offer it signals
// an answer. The tracker relays these as opaque JSON; everything else is
// bittorrent-tracker's own client: its messages, its parsing of ours.
import { EventEmitter } from 'events'
import { register } from 'node:module'

// simple-peer imports webrtc-polyfill (node-datachannel) when loaded: an
// empty one stands in, resolved by this hook before the first import.
const hook = `export async function resolve (spec, ctx, next) {
  if (spec === 'webrtc-polyfill') {
    return { shortCircuit: true, url: 'data:text/javascript,export const RTCPeerConnection = undefined, RTCSessionDescription = undefined, RTCIceCandidate = undefined' }
  }
  return next(spec, ctx)
}`
register('data:text/javascript,' + encodeURIComponent(hook))
const { default: Client } = await import('bittorrent-tracker')
const { default: WebSocketTracker } = await import('bittorrent-tracker/websocket-tracker')

const [url, infoHash] = process.argv.slice(2)
const say = (...a) => console.log(JSON.stringify(a))
const peerIds = { A: 'aa'.repeat(16) + '00262b0a', B: 'bb'.repeat(16) + 'ff80c3e9' }

class StandInPeer extends EventEmitter {
  constructor (opts = {}) {
    super()
    this.destroyed = false
    if (opts.initiator) setImmediate(() => this.emit('signal', { type: 'offer', sdp: `v=0 offer ${Math.random()}` }))
  }

  signal (data) {
    this.emit('remote', data)
    if (data.type === 'offer') setImmediate(() => this.emit('signal', { type: 'answer', sdp: `answer to ${data.sdp}` }))
  }

  destroy () { this.destroyed = true }
}
WebSocketTracker.prototype._createPeer = function () { return new StandInPeer(...arguments) }

function start (name) {
  // The socket pool is per URL: a path of its own gives each client its
  // own connection, as two browsers have.
  const client = new Client({
    infoHash, peerId: peerIds[name], announce: [`${url}/${name}`], port: 6881, wrtc: {}
  })
  client.on('update', d => say('update', name, d.complete, d.incomplete))
  client.on('warning', e => say('warning', name, e.message))
  client.on('error', e => say('error', name, e.message))
  client.on('peer', peer => peer.on('remote', data => {
    say(data.type, name, peer.id, data.sdp)
    if (data.type === 'answer') process.exit(0)
  }))
  client.start()
  return client
}

setTimeout(() => { say('timeout'); process.exit(1) }, 20000)
start('A')
setTimeout(() => start('B'), 1000)
