namespace Alora.Reporting;

/// <summary>Mean, sample standard deviation and standard error of one group of per-seed results.</summary>
/// <param name="N">Number of values.</param>
/// <param name="Mean">Arithmetic mean; NaN when <paramref name="N"/> is 0.</param>
/// <param name="Sd">Sample standard deviation (n - 1 denominator); NaN when <paramref name="N"/> &lt; 2.</param>
/// <param name="Se">Standard error of the mean, Sd / sqrt(N); NaN when <paramref name="N"/> &lt; 2.</param>
public readonly record struct SummaryStats(int N, double Mean, double Sd, double Se);

/// <summary>
/// Descriptive statistics for small samples (a handful of seeds). Written out rather than taken from a
/// library so that a constant sample has a variance of exactly 0: the naive mean of e.g. {0.1, 0.1, 0.1}
/// is not exactly 0.1, and a tiny spurious variance would turn the t-test's "zero variance" case into
/// a huge but finite t.
/// </summary>
public static class Summary
{
    /// <summary>Arithmetic mean; NaN for an empty sample.</summary>
    public static double Mean(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
            return double.NaN;
        if (IsConstant(values))
            return values[0];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
            sum += values[i];
        return sum / values.Count;
    }

    /// <summary>Unbiased sample variance (n - 1 denominator), two-pass; NaN when fewer than 2 values.</summary>
    public static double Variance(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2)
            return double.NaN;
        if (IsConstant(values))
            return 0.0;
        double mean = Mean(values),
            ss = 0,
            comp = 0;
        for (int i = 0; i < values.Count; i++)
        {
            double d = values[i] - mean;
            ss += d * d;
            comp += d;
        }
        // Corrected two-pass formula: the compensation term removes the rounding error left in the mean.
        return (ss - comp * comp / values.Count) / (values.Count - 1);
    }

    /// <summary>Sample standard deviation (n - 1 denominator); NaN when fewer than 2 values.</summary>
    public static double StandardDeviation(IReadOnlyList<double> values) => Math.Sqrt(Variance(values));

    /// <summary>Standard error of the mean, sd / sqrt(n); NaN when fewer than 2 values.</summary>
    public static double StandardError(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return StandardDeviation(values) / Math.Sqrt(values.Count);
    }

    /// <summary>All of the above at once.</summary>
    public static SummaryStats Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new SummaryStats(values.Count, Mean(values), StandardDeviation(values), StandardError(values));
    }

    /// <summary>
    /// Quantile with linear interpolation between order statistics (Hyndman and Fan type 7, the default of
    /// R and NumPy), so box plots match what readers get from those tools. NaN for an empty sample.
    /// </summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (q is < 0 or > 1 || double.IsNaN(q))
            throw new ArgumentOutOfRangeException(nameof(q), q, "q must be in [0, 1]");
        if (values.Count == 0)
            return double.NaN;
        double[] sorted = [.. values];
        Array.Sort(sorted);
        double h = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    internal static bool IsConstant(IReadOnlyList<double> values)
    {
        for (int i = 1; i < values.Count; i++)
            if (values[i] != values[0])
                return false;
        return values.Count > 0;
    }
}
