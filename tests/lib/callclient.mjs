// A minimal page-side client of the media protocol (docs/protocol.md "Media"), for tests:
// injected into a served page with page.evaluate (it only uses the page's origin for the
// WebSocket). It joins, publishes the fake camera and microphone on a "pub" connection,
// answers the server's offers on a "sub" connection, and plays every remote stream in a
// <video> element (audio is decoded only while something plays it). State lives in
// window.tdm. The functions below run in the page: keep them self-contained.

/** In the page: join `room` and start publishing. Resolves with our participant id. */
export async function pageJoin({ wsUrl, room, name, token = null, audio = true, video = true, width = 640, height = 360 }) {
  const T = {
    log: [], errors: [], trackPid: {}, firstFrame: {}, joinAt: performance.now(), me: null,
  };
  window.tdm = T;
  const ws = new WebSocket(wsUrl, 'tandem.v1');
  T.ws = ws;
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('WebSocket failed'));
  });
  const send = (m) => ws.readyState === 1 && ws.send(JSON.stringify(m));
  const cfg = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  const pub = new RTCPeerConnection(cfg);
  const sub = new RTCPeerConnection(cfg);
  T.pub = pub;
  T.sub = sub;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio, video: video ? { width, height, frameRate: 30 } : false,
  });
  T.local = stream;
  for (const t of stream.getTracks()) pub.addTransceiver(t, { direction: 'sendonly', streams: [stream] });
  for (const [pc, label] of [[pub, 'pub'], [sub, 'sub']]) {
    pc.onconnectionstatechange = () => T.log.push(`${Math.round(performance.now() - T.joinAt)} ${label} ${pc.connectionState}`);
    pc.onicecandidate = (e) => send({ type: 'candidate', pc: label, candidate: e.candidate ? e.candidate.toJSON() : null });
  }
  sub.ontrack = (ev) => {
    const s = ev.streams[0];
    if (!s) return;
    T.trackPid[ev.track.id] = s.id; // the msid stream id is the publisher's participant id
    let el = document.getElementById(`v-${s.id}`);
    if (!el) {
      el = document.createElement('video');
      el.id = `v-${s.id}`;
      el.autoplay = true;
      el.playsInline = true;
      el.width = 160;
      document.body.appendChild(el);
      el.requestVideoFrameCallback(() => {
        if (!T.firstFrame[s.id]) T.firstFrame[s.id] = performance.now();
      });
    }
    if (el.srcObject !== s) el.srcObject = s;
    el.play().catch(() => {});
  };
  let chain = Promise.resolve();
  const step = (fn) => {
    chain = chain.then(fn).catch((e) => T.errors.push(String(e)));
  };
  let welcomed;
  let refused;
  const welcome = new Promise((resolve, reject) => {
    welcomed = resolve;
    refused = reject;
    setTimeout(() => reject(new Error('no welcome within 15 s')), 15000);
  });
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    T.log.push(`${Math.round(performance.now() - T.joinAt)} ${m.type}${m.pc ? `:${m.pc}` : ''}${m.rev ? `:${m.rev}` : ''}${m.code ? `:${m.code}` : ''}`);
    if (m.type === 'welcome') {
      T.me = m.you.id;
      welcomed();
    } else if (m.type === 'error' && m.ref === 1) {
      refused(new Error(`join refused: ${m.code} ${m.message}`));
    } else if (m.type === 'error') {
      T.errors.push(m);
    } else if (m.type === 'answer' && m.pc === 'pub') {
      step(() => pub.setRemoteDescription({ type: 'answer', sdp: m.sdp }));
    } else if (m.type === 'offer' && m.pc === 'sub') {
      step(async () => {
        await sub.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        const a = await sub.createAnswer();
        await sub.setLocalDescription(a);
        send({ type: 'answer', pc: 'sub', sdp: a.sdp, rev: m.rev });
      });
    } else if (m.type === 'left') {
      document.getElementById(`v-${m.id}`)?.remove();
    }
  };
  T.joinAt = performance.now(); // join-to-first-frame counts from here (after getUserMedia)
  send({ type: 'join', id: 1, room, name, role: 'mentee', ...(token ? { token } : {}) });
  await welcome;
  const offer = await pub.createOffer();
  await pub.setLocalDescription(offer);
  send({ type: 'offer', id: 2, pc: 'pub', sdp: offer.sdp });
  T.ping = setInterval(() => send({ type: 'ping' }), 10000);
  return T.me;
}

/** In the page: leave the room and close everything. */
export async function pageLeave() {
  const T = window.tdm;
  clearInterval(T.ping);
  if (T.ws.readyState === 1) T.ws.send(JSON.stringify({ type: 'leave' }));
  T.pub.close();
  T.sub.close();
  for (const t of T.local.getTracks()) t.stop();
  for (const el of document.querySelectorAll('video')) el.remove();
  T.ws.close();
}

/** In the page: what getStats says, per remote participant and per connection. */
export async function pageStats() {
  const T = window.tdm;
  const out = { me: T.me, remote: {}, transport: {}, sent: {}, firstFrameMs: {}, errors: T.errors.map(String), log: T.log.slice(-30) };
  for (const [pid, t] of Object.entries(T.firstFrame)) out.firstFrameMs[pid] = Math.round(t - T.joinAt);
  const sub = await T.sub.getStats();
  sub.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    const pid = T.trackPid[s.trackIdentifier];
    if (!pid) return;
    const e = out.remote[pid] || (out.remote[pid] = {});
    if (s.kind === 'video') {
      Object.assign(e, {
        framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth, frameHeight: s.frameHeight || 0, fps: s.framesPerSecond,
        videoBytes: s.bytesReceived, videoLost: s.packetsLost, nacks: s.nackCount, plis: s.pliCount,
        videoPackets: s.packetsReceived || 0, freezes: s.freezeCount || 0,
        freezeSeconds: s.totalFreezesDuration || 0, framesDropped: s.framesDropped || 0,
      });
    } else {
      Object.assign(e, {
        audioEnergy: s.totalAudioEnergy || 0, audioLevel: s.audioLevel || 0,
        audioPackets: s.packetsReceived || 0, audioLost: s.packetsLost || 0,
        concealedSamples: s.concealedSamples || 0, totalSamples: s.totalSamplesReceived || 0,
        // samples played from what came (not concealed): with Opus DTX a pause sends a packet
        // every 400 ms, so what is heard, not the packet count, tells that the voice flows
        heardSamples: (s.totalSamplesReceived || 0) - (s.concealedSamples || 0),
        silentConcealed: s.silentConcealedSamples || 0,
        jbDelay: s.jitterBufferDelay || 0, jbTarget: s.jitterBufferTargetDelay || 0,
        jbEmitted: s.jitterBufferEmittedCount || 0, fecPackets: s.fecPacketsReceived || 0,
      });
    }
  });
  for (const [label, pc] of [['pub', T.pub], ['sub', T.sub]]) {
    const r = await pc.getStats();
    r.forEach((s) => {
      if (s.type === 'transport') {
        out.transport[label] = {
          dtlsState: s.dtlsState, tlsVersion: s.tlsVersion, dtlsCipher: s.dtlsCipher,
          srtpCipher: s.srtpCipher, dtlsRole: s.dtlsRole,
        };
      }
      if (label === 'pub' && s.type === 'outbound-rtp' && s.kind === 'video') {
        Object.assign(out.sent, {
          videoBytes: s.bytesSent, frameWidth: s.frameWidth, targetBitrate: s.targetBitrate,
          videoPackets: s.packetsSent, nacksReceived: s.nackCount || 0,
          retransmitted: s.retransmittedPacketsSent || 0, plisReceived: s.pliCount || 0,
        });
      }
      if (label === 'pub' && s.type === 'outbound-rtp' && s.kind === 'audio') {
        Object.assign(out.sent, { audioBytes: s.bytesSent || 0, audioPackets: s.packetsSent || 0, audioTarget: s.targetBitrate || 0 });
      }
      if (label === 'pub' && s.type === 'remote-inbound-rtp' && s.kind === 'audio') {
        // what the server's receiver reports say of this page's voice (fraction lost of the last)
        Object.assign(out.sent, { audioReportedLoss: s.fractionLost ?? null, audioLostUp: s.packetsLost || 0 });
      }
      if (label === 'pub' && s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) {
        out.sent.availableOutgoingBitrate = s.availableOutgoingBitrate;
      }
      if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) {
        (out.rtt || (out.rtt = {}))[label] = s.currentRoundTripTime; // seconds, from STUN checks
      }
    });
  }
  return out;
}
