/**
 * Deliberately broken multiplexing recipients (`nvrelay crashtest --self-test`): each
 * overrides one step of src/mux's persist order through the hooks UpstreamLink keeps for this
 * purpose. The cluster exploration (sim/cluster) must catch every one.
 */
import { Multiplexer } from '../../src/mux/multiplexer.js';
import type { Holding } from '../../src/mux/origin-index.js';
import { UpstreamLink, type RelayMode } from '../../src/mux/upstream-link.js';

/** Step 253 too early: confirmed upstream while the record is still in its group commit. */
class ConfirmBeforeDurableLink extends UpstreamLink {
  protected override recording(holding: Holding): void {
    this.confirmUpstream(holding);
  }
}

/** No memory of what was recorded: every re-send is recorded again. */
class NoOriginIndexLink extends UpstreamLink {
  protected override holds(): boolean {
    return false;
  }
}

/**
 * The hold released when the confirmation is sent, before the upstream made it durable: the
 * record retires and is forgotten while the upstream may still send the event again (the
 * analogue, here, of a high-water mark persisted ahead of what it covers).
 */
class ReleaseBeforeConfirmedLink extends UpstreamLink {
  override confirmUpstream(holding: Holding): void {
    super.confirmUpstream(holding);
    if (holding.state === 'confirming') this.mux.release(holding);
  }
}

function multiplexerWith(
  Link: new (mux: Multiplexer, name: string, mode: RelayMode) => UpstreamLink,
): typeof Multiplexer {
  return class extends Multiplexer {
    protected override createLink(name: string, mode: RelayMode): UpstreamLink {
      return new Link(this, name, mode);
    }
  };
}

export interface MuxMutant {
  name: string;
  description: string;
  expects: readonly string[];
  Multiplexer: typeof Multiplexer;
}

export const muxMutants: readonly MuxMutant[] = [
  {
    name: 'mutant-mux-confirm-before-durable',
    description: 'mux: confirms upstream before its record of the event is durable',
    expects: ['no-loss'],
    Multiplexer: multiplexerWith(ConfirmBeforeDurableLink),
  },
  {
    name: 'mutant-mux-no-origin-index',
    description: 'mux: no memory of the upstream events it recorded (re-sends recorded again)',
    expects: ['recorded-once'],
    Multiplexer: multiplexerWith(NoOriginIndexLink),
  },
  {
    name: 'mutant-mux-release-before-confirmed',
    description:
      'mux: releases its hold when it confirms upstream, before the upstream made the confirmation durable',
    expects: ['recorded-once'],
    Multiplexer: multiplexerWith(ReleaseBeforeConfirmedLink),
  },
];
