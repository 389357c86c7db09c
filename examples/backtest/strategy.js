// Strategy parameters: the tuner may change the annotated numbers below.
// A moving-average crossover on a BTC perpetual: long when the fast average is
// above the slow one, short when below, flat when the market is too volatile.
'use strict';

module.exports = {
  // Fast and slow moving-average windows, in hourly bars (fast must stay below slow).
  fast: 3, // rsi: int 2..50
  slow: 9, // rsi: int 5..200
  // Exit a trade when it has lost (stop-loss) or gained (take-profit) this fraction.
  stopLoss: 0.006, // rsi: 0.005..0.1
  takeProfit: 0.02, // rsi: 0.01..0.3
  // Position notional as a fraction of equity.
  size: 0.5, // rsi: 0.1..1
  // Stay flat while the hourly volatility (24-bar standard deviation of returns) is above this.
  maxVol: 0.02, // rsi: 0.003..0.03
};
