/**
 * What a node sees of the network: its own address, `send`, and one handler for what arrives
 * (cf. groupcache's one-method peer interfaces). The simulated network implements it here;
 * a socket transport in server/node can implement the same shape, so node logic written
 * against it runs in both. Delivery is at most once and unordered unless a link says
 * otherwise: a message may be lost, duplicated or late, as on a real network.
 */

/** Called with the sender's address and the message, once per delivery. */
export type ReceiveHandler<M> = (from: string, message: M) => void;

export interface Transport<M> {
  /** This endpoint's address. */
  readonly address: string;
  /** Sends `message` to `to`; returns at once, whatever becomes of the message. */
  send(to: string, message: M): void;
}
