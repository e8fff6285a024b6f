using MathNet.Numerics;

namespace Alora.Reporting;

/// <summary>Which t-test: an independent two-sample test (and its variance assumption) or a paired one.</summary>
public enum TTestKind
{
    /// <summary>Student's test: equal variances, pooled estimate, df = n1 + n2 - 2.</summary>
    Student,

    /// <summary>Welch's test: unequal variances, Welch–Satterthwaite df.</summary>
    Welch,

    /// <summary>The paired test of per-seed differences (<see cref="PairedTTest"/>), df = n - 1.</summary>
    Paired,
}

/// <summary>
/// Result of an independent two-sample t-test of group 1 against group 2 (t &gt; 0 when mean 1 &gt; mean 2).
/// <see cref="Reason"/> is null for an ordinary result and says why otherwise (see <see cref="TTest"/>).
/// </summary>
public sealed record TTestResult(
    TTestKind Kind,
    double T,
    double Df,
    double P,
    double Mean1,
    double Mean2,
    double Sd1,
    double Sd2,
    int N1,
    int N2,
    string? Reason
)
{
    /// <summary>Mean 1 - mean 2.</summary>
    public double MeanDifference => Mean1 - Mean2;

    /// <summary>True when t, df and p are all finite numbers and nothing was degenerate.</summary>
    public bool IsOrdinary => Reason is null;
}

/// <summary>
/// Independent two-sample t-tests with a two-sided p-value, for comparing methods across seeds.
/// </summary>
/// <remarks>
/// Degenerate inputs never throw; they give a result whose <see cref="TTestResult.Reason"/> is set:
/// <list type="bullet">
/// <item>A group with fewer than 2 values, or a non-finite value: t, df and p are NaN (means and sds
/// are still reported where they exist).</item>
/// <item>Both groups have zero variance (e.g. a deterministic metric): the standard error is 0, so
/// t = +inf or -inf with p = 0 when the means differ (the limit of the statistic; the groups are perfectly
/// separated), and t = p = NaN when the means are equal (0/0). Student's df stays n1 + n2 - 2; Welch's df is
/// 0/0 there and is reported as NaN.</item>
/// </list>
/// Only one group having zero variance is not degenerate (Welch's df then becomes n - 1 of the other group).
/// </remarks>
public static class TTest
{
    /// <summary>Student's t-test (pooled variance).</summary>
    public static TTestResult Student(IReadOnlyList<double> group1, IReadOnlyList<double> group2) => Run(group1, group2, TTestKind.Student);

    /// <summary>Welch's t-test (unequal variances, Welch–Satterthwaite degrees of freedom).</summary>
    public static TTestResult Welch(IReadOnlyList<double> group1, IReadOnlyList<double> group2) => Run(group1, group2, TTestKind.Welch);

    /// <summary>Runs the chosen test.</summary>
    public static TTestResult Run(IReadOnlyList<double> group1, IReadOnlyList<double> group2, TTestKind kind)
    {
        ArgumentNullException.ThrowIfNull(group1);
        ArgumentNullException.ThrowIfNull(group2);
        if (kind == TTestKind.Paired)
            throw new ArgumentException("a paired test pairs values by seed: use PairedTTest.Run", nameof(kind));
        int n1 = group1.Count,
            n2 = group2.Count;
        double m1 = Summary.Mean(group1),
            m2 = Summary.Mean(group2);
        double v1 = Summary.Variance(group1),
            v2 = Summary.Variance(group2);
        TTestResult Nan(string reason) => new(kind, double.NaN, double.NaN, double.NaN, m1, m2, Math.Sqrt(v1), Math.Sqrt(v2), n1, n2, reason);

        if (n1 < 2 || n2 < 2)
            return Nan($"each group needs at least 2 values (n1 = {n1}, n2 = {n2})");
        if (!AllFinite(group1) || !AllFinite(group2))
            return Nan("a group contains NaN or an infinite value");

        double t,
            df;
        if (kind == TTestKind.Student)
        {
            double pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2);
            df = n1 + n2 - 2;
            t = (m1 - m2) / Math.Sqrt(pooled * (1.0 / n1 + 1.0 / n2));
        }
        else
        {
            double a = v1 / n1,
                b = v2 / n2;
            df = (a + b) * (a + b) / (a * a / (n1 - 1) + b * b / (n2 - 1));
            t = (m1 - m2) / Math.Sqrt(a + b);
        }

        string? reason = null;
        double p;
        if (v1 == 0 && v2 == 0)
        {
            // Division by a zero standard error: IEEE gives ±inf (means differ) or NaN (means equal), as documented.
            reason =
                m1 == m2
                    ? "both groups have zero variance and equal means: t is 0/0"
                    : "both groups have zero variance: the standard error is 0, so t is infinite";
            p = double.IsNaN(t) ? double.NaN : 0.0;
        }
        else
        {
            p = TwoSidedP(t, df);
        }
        return new TTestResult(kind, t, df, p, m1, m2, Math.Sqrt(v1), Math.Sqrt(v2), n1, n2, reason);
    }

    /// <summary>
    /// Two-sided p-value P(|T| &gt;= |t|) for Student's t distribution with <paramref name="df"/> degrees of
    /// freedom (df need not be an integer).
    /// </summary>
    /// <remarks>
    /// Uses the identity P(|T| &gt;= |t|) = I_x(df/2, 1/2) with x = df / (df + t²), where I is the regularized
    /// incomplete beta function. This is what MathNet's StudentT.CDF evaluates internally, but calling it directly
    /// avoids forming 1 - CDF, which would lose all precision for very small p.
    /// </remarks>
    public static double TwoSidedP(double t, double df)
    {
        if (double.IsNaN(t) || double.IsNaN(df) || df <= 0)
            return double.NaN;
        if (double.IsInfinity(t))
            return 0.0;
        double x = df / (df + t * t);
        return Math.Clamp(SpecialFunctions.BetaRegularized(df / 2, 0.5, x), 0.0, 1.0);
    }

    private static bool AllFinite(IReadOnlyList<double> values)
    {
        for (int i = 0; i < values.Count; i++)
            if (!double.IsFinite(values[i]))
                return false;
        return true;
    }
}
