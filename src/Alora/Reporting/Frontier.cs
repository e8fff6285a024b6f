namespace Alora.Reporting;

/// <summary>One point of a method's trade-off curve: its strength, general perplexity (x) and domain accuracy (y).</summary>
public readonly record struct FrontierPoint(double Strength, double Ppl, double Acc);

/// <summary>
/// Reading a trade-off curve at a matched domain accuracy. A method's curve joins its points in order of strength;
/// the perplexity it keeps at accuracy a* is interpolated linearly between the two consecutive points whose
/// accuracies bracket a*:
///   ppl(a*) = ppl_i + (a* - acc_i) * (ppl_{i+1} - ppl_i) / (acc_{i+1} - acc_i).
/// Where several segments bracket a* (a curve that is not monotone, seeds' noise), the one of the strongest
/// setting is read: the most protective strength that still reaches a*. Outside the curve's range there is no value
/// (never extrapolated).
/// </summary>
public static class Frontier
{
    /// <summary>The interpolated perplexity at accuracy <paramref name="acc"/>, or null when the curve does not reach it.</summary>
    public static double? PplAtAccuracy(IReadOnlyList<FrontierPoint> curve, double acc)
    {
        ArgumentNullException.ThrowIfNull(curve);
        var c = curve.OrderBy(p => p.Strength).ToList();
        if (c.Count == 1)
            return c[0].Acc == acc ? c[0].Ppl : null;
        for (int i = c.Count - 2; i >= 0; i--)
        {
            FrontierPoint a = c[i],
                b = c[i + 1];
            if (acc < Math.Min(a.Acc, b.Acc) || acc > Math.Max(a.Acc, b.Acc))
                continue;
            if (a.Acc == b.Acc)
                return Math.Min(a.Ppl, b.Ppl); // a flat segment at a*: the better of its two ends
            return a.Ppl + (acc - a.Acc) * (b.Ppl - a.Ppl) / (b.Acc - a.Acc);
        }
        return null;
    }

    /// <summary>
    /// Per seed, the perplexity each of two methods keeps at accuracy <paramref name="acc"/> on its own per-seed curve,
    /// and the paired t-test of the seeds where both reach it (t &gt; 0 when the first keeps the higher perplexity).
    /// </summary>
    public static (IReadOnlyList<long> Seeds, TTestResult Test) PairedAtAccuracy(
        IReadOnlyDictionary<long, IReadOnlyList<FrontierPoint>> first,
        IReadOnlyDictionary<long, IReadOnlyList<FrontierPoint>> second,
        double acc
    )
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var pairs = first
            .Keys.Intersect(second.Keys)
            .Order()
            .Select(s => (Seed: s, X: PplAtAccuracy(first[s], acc), Y: PplAtAccuracy(second[s], acc)))
            .Where(p => p.X is not null && p.Y is not null)
            .ToList();
        return (pairs.Select(p => p.Seed).ToList(), PairedTTest.Run(pairs.Select(p => p.X!.Value).ToList(), pairs.Select(p => p.Y!.Value).ToList()));
    }
}
