// A DHT node of npm's bittorrent-dht 11 (a second implementation, not
// libtorrent's) on 127.0.0.1, for tests/integration/dht_node.sh. Run from
// the directory bittorrent-dht is installed in (ES modules resolve from
// there):
//
//   node btdht_node.mjs PORT[,PORT...]      bootstrap from 127.0.0.1:PORTs
//
// Prints {"port": n} once it listens and has bootstrapped, then answers
// commands read from stdin, one a line, with one JSON line each:
//
//   get_immutable TARGET_HEX        -> {"value": hex of the bencoded v} or {}
//   get_mutable PK_HEX SALT         -> {"value": hex, "seq": n, "signature": hex} or {}
//   put_immutable TEXT              -> {"target": hex, "stored": n}
//   put_mutable SEED_HEX SALT TEXT SEQ -> {"target": hex, "stored": n}
//   add_node PORT                   -> {}
//
// Signatures are made and checked with node's own Ed25519 (crypto); a got
// mutable item is returned only when its signature verifies and its key
// and salt hash to the target (bittorrent-dht checks both). TEXT (one word:
// commands split at spaces) travels
// as a bencoded string.
import crypto from 'node:crypto'
import readline from 'node:readline'
import bencode from 'bencode'
import DHT from 'bittorrent-dht'

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')

function verify (sig, msg, pk) {
  const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, pk]), format: 'der', type: 'spki' })
  return crypto.verify(null, msg, key, sig)
}

function keyOf (seedHex) {
  const sk = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8'
  })
  const spki = crypto.createPublicKey(sk).export({ format: 'der', type: 'spki' })
  return { sk, pk: spki.subarray(spki.length - 32) }
}

const bootstrap = process.argv[2].split(',').map(p => '127.0.0.1:' + p)
const dht = new DHT({ bootstrap, verify, host: '127.0.0.1' })
const say = o => process.stdout.write(JSON.stringify(o) + '\n')

function run (words, done) {
  const [cmd, a, b, c, d] = words
  if (cmd === 'add_node') {
    dht.addNode({ host: '127.0.0.1', port: Number(a) })
    return done({})
  }
  if (cmd === 'get_immutable' || cmd === 'get_mutable') {
    const target = cmd === 'get_immutable'
      ? Buffer.from(a, 'hex')
      : crypto.createHash('sha1').update(Buffer.concat([Buffer.from(a, 'hex'), Buffer.from(b)])).digest()
    const opts = cmd === 'get_mutable' ? { salt: Buffer.from(b), cache: false } : { cache: false }
    return dht.get(target, opts, (err, res) => {
      if (err || !res) return done(err ? { error: String(err) } : {})
      const out = { value: Buffer.from(bencode.encode(res.v)).toString('hex') }
      if (res.sig) Object.assign(out, { seq: res.seq, signature: Buffer.from(res.sig).toString('hex') })
      done(out)
    })
  }
  if (cmd === 'put_immutable') {
    return dht.put({ v: Buffer.from(a) }, (err, hash, n) =>
      done(err ? { error: String(err) } : { target: hash.toString('hex'), stored: n }))
  }
  if (cmd === 'put_mutable') {
    const { sk, pk } = keyOf(a)
    const opts = { k: pk, salt: Buffer.from(b), v: Buffer.from(c), seq: Number(d),
      sign: buf => crypto.sign(null, buf, sk) }
    return dht.put(opts, (err, hash, n) =>
      done(err ? { error: String(err) } : { target: hash.toString('hex'), stored: n }))
  }
  done({ error: 'unknown command' })
}

function serve () {
  say({ port: dht.address().port })
  const queue = []
  let busy = false
  const next = () => {
    if (busy || !queue.length) return
    busy = true
    run(queue.shift(), out => { say(out); busy = false; next() })
  }
  readline.createInterface({ input: process.stdin }).on('line', line => {
    queue.push(line.trim().split(/\s+/))
    next()
  }).on('close', () => dht.destroy(() => process.exit(0)))
}

// Both must have happened, in either order: listening, and the bootstrap.
let waiting = 2
const one = () => { if (--waiting === 0) serve() }
dht.once('ready', one)
dht.listen(0, '127.0.0.1', one)
