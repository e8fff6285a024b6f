using Alora.Reporting;

namespace Alora.Tests.Reporting;

public class SummaryTests
{
    [Fact]
    public void Mean_sd_se_of_a_small_sample()
    {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squared deviations 32, sample variance 32/7.
        double[] v = [2, 4, 4, 4, 5, 5, 7, 9];
        var s = Summary.Of(v);
        Assert.Equal(8, s.N);
        Assert.Equal(5.0, s.Mean, 1e-15);
        Assert.Equal(Math.Sqrt(32.0 / 7), s.Sd, 1e-14);
        Assert.Equal(Math.Sqrt(32.0 / 7) / Math.Sqrt(8), s.Se, 1e-14);
    }

    [Fact]
    public void Constant_sample_has_exactly_zero_variance()
    {
        double[] v = [0.1, 0.1, 0.1];
        Assert.Equal(0.1, Summary.Mean(v));
        Assert.Equal(0.0, Summary.Variance(v));
    }

    [Fact]
    public void Small_samples_give_NaN()
    {
        Assert.True(double.IsNaN(Summary.Mean([])));
        Assert.Equal(3.0, Summary.Mean([3.0]));
        Assert.True(double.IsNaN(Summary.StandardDeviation([3.0])));
        Assert.True(double.IsNaN(Summary.StandardError([3.0])));
    }

    [Fact]
    public void Quantile_matches_numpy_default()
    {
        // numpy.quantile([1, 2, 3, 4, 10], [0.25, 0.5, 0.75, 0.1]) = [2, 3, 4, 1.4] (linear, type 7).
        double[] v = [10, 3, 1, 4, 2];
        Assert.Equal(2.0, Summary.Quantile(v, 0.25), 1e-12);
        Assert.Equal(3.0, Summary.Quantile(v, 0.5), 1e-12);
        Assert.Equal(4.0, Summary.Quantile(v, 0.75), 1e-12);
        Assert.Equal(1.4, Summary.Quantile(v, 0.1), 1e-12);
        Assert.Equal(10.0, Summary.Quantile(v, 1), 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => Summary.Quantile(v, 1.5));
    }
}
