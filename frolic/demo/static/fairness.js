// A play's draws by the published rule (docs/fairness.md), in the browser with Web Crypto
// only: the same numbers as frolic/fairness/draws.py, to the last bit.
//
//   commitment(seed)                 SHA-256(seed), hex
//   playerRef(seed, game, user)      first 32 hex of HMAC-SHA256(seed, "frolic-fair-v1|player|<game>|<user>")
//   draws(seed, game, ref, n, client) {u, brandU}: HMAC-SHA256(seed, "frolic-fair-v1|play|<game>|<ref>|<n>|<client>"),
//                                    bytes 0..8 and 8..16 read big-endian, >> 11, / 2^53
//
// Seeds are hex strings, as GET /games/{id}/fairness shows them once the game has ended.
// crypto.subtle exists only in a secure context (HTTPS, or http://localhost).

export const ALGORITHM = "frolic-fair-v1";
export const CLIENT_SEED = /^[A-Za-z0-9._~-]{0,64}$/;

const utf8 = new TextEncoder();
const keys = new Map();  // seed hex -> its HMAC key, imported once

export function fromHex(hex) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not a hex string: ${hex}`);
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function subtle() {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new Error("this browser offers no Web Crypto here (it needs HTTPS or localhost)");
  }
  return globalThis.crypto.subtle;
}

async function hmac(seedHex, text) {
  let key = keys.get(seedHex);
  if (!key) {
    key = await subtle().importKey("raw", fromHex(seedHex), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
    keys.set(seedHex, key);
  }
  return new Uint8Array(await subtle().sign("HMAC", key, utf8.encode(text)));
}

/** Eight bytes from `offset`, big-endian, as one of the 2^53 evenly spaced doubles in [0, 1). */
export function unit(bytes, offset) {
  const top = new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, false) >> 11n;
  return Number(top) / 2 ** 53;  // both exact: top < 2^53, and a power of two divides exactly
}

/** What the game published before its first play: SHA-256 of the seed, in hex. */
export async function commitment(seedHex) {
  return toHex(new Uint8Array(await subtle().digest("SHA-256", fromHex(seedHex))));
}

/** The first log entry's `prev`: SHA-256("frolic-fair-v1|genesis|<game>|<commitment>"), hex. */
export async function genesis(game, commitmentHex) {
  const text = `${ALGORITHM}|genesis|${game}|${commitmentHex}`;
  return toHex(new Uint8Array(await subtle().digest("SHA-256", utf8.encode(text))));
}

/** A player's pseudonym in a game, from the id they play under. */
export async function playerRef(seedHex, game, user) {
  return toHex(await hmac(seedHex, `${ALGORITHM}|player|${game}|${user}`)).slice(0, 32);
}

/** The play's message, checked as frolic.fairness.draws.message checks it. */
export function message(game, ref, number, clientSeed = "") {
  if (!CLIENT_SEED.test(clientSeed)) throw new Error(`a client seed is at most 64 of A-Z a-z 0-9 . _ ~ -, not ${JSON.stringify(clientSeed)}`);
  if (!Number.isInteger(number) || number < 1) throw new Error(`play numbers start at 1, not ${number}`);
  return `${ALGORITHM}|play|${game}|${ref}|${number}|${clientSeed}`;
}

/** The play's two draws: it wins if u < p (and the caps allow); brandU picks the brand. */
export async function draws(seedHex, game, ref, number, clientSeed = "") {
  const digest = await hmac(seedHex, message(game, ref, number, clientSeed));
  return {u: unit(digest, 0), brandU: unit(digest, 8)};
}
