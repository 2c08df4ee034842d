import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.js';

describe('EventBus.reportMissed', () => {
  it('tells every listener, even after one throws, and no longer one that unsubscribed', () => {
    const bus = new EventBus();
    const told: string[] = [];
    bus.onMissed(() => {
      told.push('first');
      throw new Error('a broken listener');
    });
    const off = bus.onMissed(() => told.push('second'));
    bus.onMissed(() => told.push('third'));
    bus.reportMissed();
    expect(told).toEqual(['first', 'second', 'third']);
    off();
    bus.reportMissed();
    expect(told).toEqual(['first', 'second', 'third', 'first', 'third']);
  });

  it('is not an event: listeners of every event hear nothing of it', () => {
    const bus = new EventBus();
    const heard: string[] = [];
    bus.onAny((event) => heard.push(event.type));
    bus.reportMissed();
    expect(heard).toEqual([]);
  });
});
