using Alora.Reporting;

namespace Alora.Tests.Reporting;

/// <summary>
/// Reference values were computed independently in Python with mpmath 1.3.0 at 50 significant digits
/// (scipy is not installed here) by ttest_reference.py beside this file, from the exact binary values of the same doubles:
/// t and df from their textbook formulas; p = I_{df/(df+t²)}(df/2, 1/2) with mpmath.betainc(regularized=True),
/// and cross-checked (agreeing to 1e-30) against 2·∫_{|t|}^∞ f(x; df) dx, the Student t density
/// f = Γ((v+1)/2) / (√(vπ) Γ(v/2)) · (1 + x²/v)^(-(v+1)/2) integrated numerically with mpmath.quad.
/// </summary>
public class TTestTests
{
    private const double TolT = 1e-9,
        TolP = 1e-6;

    // A: equal n = 6, similar variances (e.g. eval loss of two methods over six seeds).
    private static readonly double[] A1 = [2.31, 2.45, 2.19, 2.52, 2.38, 2.27];
    private static readonly double[] A2 = [2.41, 2.58, 2.49, 2.66, 2.53, 2.47];

    // B: unequal n (5 vs 8) and unequal variances (sd 0.017 vs 0.059).
    private static readonly double[] B1 = [0.612, 0.634, 0.598, 0.641, 0.627];
    private static readonly double[] B2 = [0.571, 0.655, 0.532, 0.689, 0.601, 0.548, 0.672, 0.590];

    // C: very unequal n (3 vs 12) and variances, large effect, small p.
    private static readonly double[] C1 = [10.2, 10.9, 9.7];
    private static readonly double[] C2 = [12.1, 13.5, 11.8, 14.2, 12.9, 13.1, 12.4, 15.0, 11.5, 13.8, 12.7, 14.4];

    public static TheoryData<string, TTestKind, double, double, double> Cases =>
        new()
        {
            { "A", TTestKind.Student, -2.7814504110363248, 10.0, 0.019402311035386543 },
            { "A", TTestKind.Welch, -2.7814504110363248, 9.1297241271911063, 0.021069475348148897 },
            { "B", TTestKind.Student, 0.55539108460300122, 11.0, 0.58974350363992624 },
            { "B", TTestKind.Welch, 0.6854815163253587, 8.8036941261467572, 0.5106847792772542 },
            { "C", TTestKind.Student, -4.2816953838989494, 13.0, 0.00089306920280682685 },
            { "C", TTestKind.Welch, -6.0716920315571402, 5.8993018038579951, 0.00096478942177664232 },
        };

    private static (double[], double[]) Data(string name) =>
        name switch
        {
            "A" => (A1, A2),
            "B" => (B1, B2),
            _ => (C1, C2),
        };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_mpmath_reference(string name, TTestKind kind, double t, double df, double p)
    {
        var (g1, g2) = Data(name);
        var r = TTest.Run(g1, g2, kind);
        Assert.Null(r.Reason);
        Assert.Equal(kind, r.Kind);
        Assert.Equal(t, r.T, TolT);
        Assert.Equal(df, r.Df, TolT);
        Assert.Equal(p, r.P, TolP);
        // Small p must also be right relative to itself, not only to 1e-6 absolute.
        Assert.Equal(1.0, r.P / p, 1e-7);
        Assert.Equal(g1.Length, r.N1);
        Assert.Equal(g2.Length, r.N2);
    }

    [Fact]
    public void Means_and_sample_sds_are_reported()
    {
        var r = TTest.Welch(C1, C2);
        Assert.Equal(10.266666666666666, r.Mean1, 1e-12);
        Assert.Equal(13.116666666666667, r.Mean2, 1e-12);
        Assert.Equal(0.60277137733417137, r.Sd1, 1e-12);
        Assert.Equal(1.0911489635270065, r.Sd2, 1e-12);
        Assert.Equal(r.Mean1 - r.Mean2, r.MeanDifference);
    }

    // Published example: Student's sleep data (Cushny & Peebles), R's `example(t.test)` /
    // `t.test(extra ~ group, data = sleep)`, whose documented output is
    // Welch: t = -1.8608, df = 17.776, p-value = 0.07939; with var.equal = TRUE: df = 18, p-value = 0.07919.
    // The mpmath values (full precision) agree with those printed digits and are asserted as well.
    private static readonly double[] Sleep1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    private static readonly double[] Sleep2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

    [Fact]
    public void Sleep_data_matches_published_R_output()
    {
        var w = TTest.Welch(Sleep1, Sleep2);
        Assert.Equal(-1.8608, w.T, 5e-5);
        Assert.Equal(17.776, w.Df, 5e-4);
        Assert.Equal(0.07939, w.P, 5e-6);
        Assert.Equal(-1.8608134674868531, w.T, TolT);
        Assert.Equal(17.77647351617849, w.Df, TolT);
        Assert.Equal(0.079394140187358138, w.P, TolP);

        var s = TTest.Student(Sleep1, Sleep2);
        Assert.Equal(18, s.Df);
        Assert.Equal(0.07919, s.P, 5e-6);
        Assert.Equal(0.079186714215938111, s.P, TolP);
    }

    [Fact]
    public void Swapping_groups_flips_t_and_keeps_p()
    {
        var ab = TTest.Welch(B1, B2);
        var ba = TTest.Welch(B2, B1);
        Assert.Equal(-ab.T, ba.T, 1e-12);
        Assert.Equal(ab.Df, ba.Df, 1e-12);
        Assert.Equal(ab.P, ba.P, 1e-12);
    }

    [Theory]
    [InlineData(TTestKind.Student)]
    [InlineData(TTestKind.Welch)]
    public void Fewer_than_two_values_gives_NaN_with_reason(TTestKind kind)
    {
        var r = TTest.Run([1.0], [1.0, 2.0, 3.0], kind);
        Assert.True(double.IsNaN(r.T) && double.IsNaN(r.Df) && double.IsNaN(r.P));
        Assert.Contains("at least 2", r.Reason, StringComparison.Ordinal);
        Assert.False(r.IsOrdinary);
        Assert.Equal(1.0, r.Mean1);
        Assert.True(double.IsNaN(r.Sd1));
        Assert.Equal(2.0, r.Mean2);

        var empty = TTest.Run([], [1.0, 2.0], kind);
        Assert.True(double.IsNaN(empty.P) && double.IsNaN(empty.Mean1));
        Assert.NotNull(empty.Reason);
    }

    [Fact]
    public void Non_finite_value_gives_NaN_with_reason()
    {
        var r = TTest.Welch([1.0, double.NaN, 2.0], [1.0, 2.0]);
        Assert.True(double.IsNaN(r.P));
        Assert.Contains("NaN", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_variance_in_both_groups_gives_infinite_t_and_zero_p_when_means_differ()
    {
        // 0.1 three times: a naive mean is not exactly 0.1, which would leave a spurious tiny variance.
        var s = TTest.Student([0.1, 0.1, 0.1], [0.3, 0.3]);
        Assert.Equal(double.NegativeInfinity, s.T);
        Assert.Equal(3.0, s.Df);
        Assert.Equal(0.0, s.P);
        Assert.Contains("zero variance", s.Reason, StringComparison.Ordinal);

        var w = TTest.Welch([0.3, 0.3, 0.3], [0.1, 0.1]);
        Assert.Equal(double.PositiveInfinity, w.T);
        Assert.True(double.IsNaN(w.Df)); // Welch–Satterthwaite df is 0/0 here
        Assert.Equal(0.0, w.P);
    }

    [Fact]
    public void Zero_variance_and_equal_means_gives_NaN()
    {
        var r = TTest.Student([2.0, 2.0], [2.0, 2.0, 2.0]);
        Assert.True(double.IsNaN(r.T) && double.IsNaN(r.P));
        Assert.Contains("equal means", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_variance_in_one_group_is_ordinary_and_Welch_df_is_other_n_minus_1()
    {
        var r = TTest.Welch([5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0]);
        Assert.Null(r.Reason);
        Assert.Equal(3.0, r.Df, 1e-12);
        // t = (5 - 2.5) / sqrt(var2 / 4), var2 = 5/3.
        Assert.Equal(2.5 / Math.Sqrt(5.0 / 3.0 / 4.0), r.T, 1e-12);
    }

    [Fact]
    public void TwoSidedP_limits()
    {
        Assert.Equal(1.0, TTest.TwoSidedP(0, 5), 1e-15);
        Assert.Equal(0.0, TTest.TwoSidedP(double.PositiveInfinity, 5));
        Assert.True(double.IsNaN(TTest.TwoSidedP(1, 0)));
        // df = 1 is the Cauchy distribution: P(|T| >= 1) = 1/2 exactly.
        Assert.Equal(0.5, TTest.TwoSidedP(1, 1), 1e-12);
        // df = 2 has a closed form: P(|T| >= t) = 1 - t / sqrt(2 + t²).
        Assert.Equal(1 - 3 / Math.Sqrt(11), TTest.TwoSidedP(-3, 2), 1e-12);
    }
}
