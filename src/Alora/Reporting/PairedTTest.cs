namespace Alora.Reporting;

/// <summary>
/// The paired t-test over seeds: the differences d_s = x_s - y_s of two methods measured on the same seed are
/// tested against 0 with t = mean(d) / (sd(d) / sqrt(n)) and df = n - 1 (two-sided p).
/// </summary>
public static class PairedTTest
{
    /// <summary>
    /// Tests <paramref name="x"/> against <paramref name="y"/> pair by pair (t &gt; 0 when x is larger). Fewer than 2 pairs
    /// or a non-finite value give NaN with a reason; differences all equal give t = ±inf and p = 0 (or NaN when all 0).
    /// </summary>
    public static TTestResult Run(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
            throw new ArgumentException($"a paired test needs as many values on each side (got {x.Count} and {y.Count})", nameof(y));
        var d = x.Zip(y, (a, b) => a - b).ToList();
        int n = d.Count;
        double mx = Summary.Mean(x),
            my = Summary.Mean(y);
        double sdx = Math.Sqrt(Summary.Variance(x)),
            sdy = Math.Sqrt(Summary.Variance(y));
        TTestResult Result(double t, double df, double p, string? reason) => new(TTestKind.Paired, t, df, p, mx, my, sdx, sdy, n, n, reason);
        if (n < 2)
            return Result(double.NaN, double.NaN, double.NaN, $"a paired test needs at least 2 pairs (got {n})");
        if (d.Any(v => !double.IsFinite(v)))
            return Result(double.NaN, double.NaN, double.NaN, "a pair contains NaN or an infinite value");
        double mean = Summary.Mean(d),
            sd = Math.Sqrt(Summary.Variance(d));
        double t = mean / (sd / Math.Sqrt(n));
        if (sd == 0)
            return Result(
                t,
                n - 1,
                double.IsNaN(t) ? double.NaN : 0.0,
                mean == 0 ? "every difference is 0: t is 0/0" : "every difference is the same: t is infinite"
            );
        return Result(t, n - 1, TTest.TwoSidedP(t, n - 1), null);
    }
}
