// nsqjs, an NSQ client written independently of go-nsq, publishing and
// consuming through an nsqd: PUB, MPUB and a large message, each checked
// byte for byte by a Reader on the same topic. Run by
// test/compat/features_nodejs_test.go against upstream nsqd and ours.
//
// usage: node compat.js <host:port> <topic> <none|snappy|deflate> [tls]
// Prints "OK <n> messages" and exits 0, or prints the problem and exits 1.
'use strict'

const crypto = require('crypto')
const nsq = require('nsqjs')

const [addr, topic, compression, useTLS] = process.argv.slice(2)
if (!addr || !topic || !['none', 'snappy', 'deflate'].includes(compression)) {
  console.error('usage: node compat.js <host:port> <topic> <none|snappy|deflate> [tls]')
  process.exit(2)
}
const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))]

const options = {
  snappy: compression === 'snappy',
  deflate: compression === 'deflate',
  deflateLevel: 6,
  tls: useTLS === 'tls',
  tlsVerification: false,
}

// the messages: single PUBs, one MPUB, and a 512 KiB random body
const want = new Map()
const add = (body) => { want.set(body.toString('hex'), body); return body }
const singles = Array.from({length: 20}, (_, i) => add(Buffer.from(`pub-${i}-` + 'x'.repeat(i * 10))))
const batch = Array.from({length: 50}, (_, i) => add(Buffer.from(`mpub-${i}`)))
const large = add(Buffer.concat([Buffer.from('large-'), crypto.randomBytes(512 * 1024)]))

let finished = false
const fail = (why) => {
  if (finished) {
    return // closing the connections after success may fail pending callbacks
  }
  console.error(`FAIL (${compression}${options.tls ? '+tls' : ''}): ${why}`)
  process.exit(1)
}
setTimeout(() => fail(`timed out with ${want.size} messages missing`), 30000).unref()

const reader = new nsq.Reader(topic, 'nodejs', {...options, nsqdTCPAddresses: [addr], maxInFlight: 100})
reader.on('error', (err) => fail(`reader: ${err}`))
reader.on('message', (msg) => {
  const key = msg.body.toString('hex')
  if (!want.delete(key)) {
    fail(`unexpected or duplicate message of ${msg.body.length} bytes`)
  }
  msg.finish()
  if (want.size === 0) {
    // every message arrived; wait for the last publish's answer, then close
    published.then(() => {
      finished = true
      console.log(`OK ${singles.length + batch.length + 1} messages`)
      reader.close()
      writer.close()
      setTimeout(() => process.exit(0), 100)
    })
  }
})

let publishedOK
const published = new Promise((resolve) => { publishedOK = resolve })
const writer = new nsq.Writer(host, port, options)
writer.on('error', (err) => fail(`writer: ${err}`))
writer.on('ready', () => {
  const publish = (msgs) => new Promise((resolve, reject) =>
    writer.publish(topic, msgs, (err) => (err ? reject(err) : resolve())))
  ;(async () => {
    for (const m of singles) {
      await publish(m)
    }
    await publish(batch)
    await publish(large)
    publishedOK()
  })().catch((err) => fail(`publish: ${err}`))
})

reader.on('nsqd_connected', () => writer.connect())
reader.connect()
