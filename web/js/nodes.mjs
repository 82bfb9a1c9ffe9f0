// Several Tandem nodes behind one name (docs/deploy.md "Several machines"): which server the
// room page's WebSocket goes to. A node that does not hold the room answers a join with
// `moved` (docs/protocol.md): the page goes there at once. `welcome.nodes` lists the live
// nodes: when the connection is lost, each new try goes to the next of them, so that the
// call comes back on another node when its own died (the room's lease in Redis lapses, and
// the node the page reaches takes the room, or sends it where the room went). A server
// alone sends neither, and nothing changes.

const MAX_NODES = 16;
// `moved` followed at once this many times in a row; later ones wait for the backoff (two
// nodes that disagree for a moment must not make the page spin).
const MAX_QUICK_MOVES = 3;

/** A wss://host[:port]/ws URL of a node, or null. */
export function nodeUrl(u) {
  if (typeof u !== 'string' || u.length > 300) return null;
  let url;
  try {
    url = new URL(u);
  } catch {
    return null;
  }
  if (url.protocol !== 'wss:' || url.pathname !== '/ws' || url.search || url.hash || url.username) return null;
  return url.href;
}

export class NodeRoute {
  #home;
  #nodes = [];
  #moves = 0;

  /** home: the WebSocket URL of the server that served the page. */
  constructor(home) {
    this.#home = home;
  }

  /** welcome: remember the live nodes, and that this connection works. */
  welcome(msg) {
    this.#moves = 0;
    if (!Array.isArray(msg.nodes)) return;
    this.#nodes = msg.nodes.slice(0, MAX_NODES).map(nodeUrl).filter(Boolean);
  }

  /** moved: the next connection goes to msg.url (at once, unless the page keeps being
   *  moved). Returns false when msg carries no usable URL. */
  moved(msg, sig) {
    const url = nodeUrl(msg.url);
    if (!url) return false;
    this.#moves += 1;
    sig.moveTo(url, { now: this.#moves <= MAX_QUICK_MOVES });
    return true;
  }

  /** The connection was lost: the next try goes to the next node (the home first). */
  lost(sig) {
    if (this.#nodes.length === 0) return;
    const all = [this.#home, ...this.#nodes.filter((u) => u !== this.#home)];
    const i = all.indexOf(sig.url);
    sig.moveTo(all[(i + 1) % all.length]);
  }
}
