using Alora.Reporting;

namespace Alora.Tests.Reporting;

/// <summary>Reading trade-off curves at a matched accuracy, checked on hand-made curves with hand-computed values.</summary>
public sealed class FrontierTests
{
    static FrontierPoint P(double strength, double ppl, double acc) => new(strength, ppl, acc);

    // strengths 0..3, perplexity and accuracy both falling as the strength grows
    static readonly FrontierPoint[] Curve = [P(2, 6.0, 0.80), P(0, 8.0, 0.95), P(3, 5.5, 0.60), P(1, 7.0, 0.90)];

    [Theory]
    [InlineData(0.85, 6.5)] // between (7.0, 0.90) and (6.0, 0.80): 7 + (0.85 - 0.90) * (6 - 7) / (0.80 - 0.90) = 6.5
    [InlineData(0.925, 7.5)] // between (8.0, 0.95) and (7.0, 0.90): 8 + (-0.025) * (-1) / (-0.05) = 7.5
    [InlineData(0.70, 5.75)] // between (6.0, 0.80) and (5.5, 0.60): 6 + (-0.10) * (-0.5) / (-0.20) = 5.75
    [InlineData(0.60, 5.5)] // an end point
    [InlineData(0.95, 8.0)]
    public void TheCurveIsReadByLinearInterpolationInOrderOfStrength(double acc, double ppl) =>
        Assert.Equal(ppl, Frontier.PplAtAccuracy(Curve, acc)!.Value, 12);

    [Theory]
    [InlineData(0.97)]
    [InlineData(0.59)]
    public void AnAccuracyOutsideTheCurveHasNoValue(double acc) => Assert.Null(Frontier.PplAtAccuracy(Curve, acc));

    [Fact]
    public void ANonMonotoneCurveIsReadOnItsStrongestBracketingSegment()
    {
        // 0.82 lies in three segments; the strongest, (6.5, 0.85)-(6.0, 0.70), gives 6.5 + (-0.03) * (-0.5) / (-0.15) = 6.4
        FrontierPoint[] c = [P(0, 8, 0.90), P(1, 7, 0.80), P(2, 6.5, 0.85), P(3, 6, 0.70)];
        Assert.Equal(6.4, Frontier.PplAtAccuracy(c, 0.82)!.Value, 12);
        // a flat segment at the accuracy gives the better (lower) perplexity of its ends
        Assert.Equal(6.0, Frontier.PplAtAccuracy([P(0, 7, 0.8), P(1, 6, 0.8)], 0.8)!.Value, 12);
        Assert.Equal(7.0, Frontier.PplAtAccuracy([P(0, 7, 0.8)], 0.8)!.Value, 12);
        Assert.Null(Frontier.PplAtAccuracy([P(0, 7, 0.8)], 0.7));
    }

    [Fact]
    public void ThePairedTestOfTwoSetsOfSeedsMatchesTheClosedForm()
    {
        // per seed, method A keeps ppl 7, 8, 9 at acc 0.85 and method B keeps 6, 6, 6: differences 1, 2, 3
        IReadOnlyList<FrontierPoint> Line(double pplAt85) => [P(0, pplAt85 + 1, 0.95), P(1, pplAt85 - 1, 0.75)];
        var a = new Dictionary<long, IReadOnlyList<FrontierPoint>>
        {
            [1] = Line(7),
            [2] = Line(8),
            [3] = Line(9),
        };
        var b = new Dictionary<long, IReadOnlyList<FrontierPoint>>
        {
            [1] = Line(6),
            [2] = Line(6),
            [3] = Line(6),
            [4] = Line(0), // a seed only B has is left out of the pairs
        };
        var (seeds, test) = Frontier.PairedAtAccuracy(a, b, 0.85);
        Assert.Equal([1L, 2L, 3L], seeds);
        // d = 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 2 sqrt 3, df 2; for df 2, P(|T| >= t) = 1 - t / sqrt(2 + t^2)
        double t = 2 * Math.Sqrt(3);
        Assert.Equal(t, test.T, 10);
        Assert.Equal(2, test.Df);
        Assert.Equal(1 - t / Math.Sqrt(2 + t * t), test.P, 10);
        Assert.Equal(TTestKind.Paired, test.Kind);
    }

    [Fact]
    public void DegeneratePairsGiveAReasonNotAnException()
    {
        Assert.NotNull(PairedTTest.Run([1.0], [2.0]).Reason);
        Assert.True(double.IsNaN(PairedTTest.Run([1.0, double.NaN], [2.0, 3.0]).P));
        var same = PairedTTest.Run([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]); // every difference 1
        Assert.True(double.IsPositiveInfinity(same.T));
        Assert.Equal(0.0, same.P);
        Assert.Throws<ArgumentException>(() => PairedTTest.Run([1.0, 2.0], [1.0]));
        Assert.Throws<ArgumentException>(() => TTest.Run([1.0, 2.0], [1.0, 3.0], TTestKind.Paired));
    }
}
