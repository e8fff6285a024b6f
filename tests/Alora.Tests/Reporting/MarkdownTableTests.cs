using Alora.Reporting;

namespace Alora.Tests.Reporting;

public class MarkdownTableTests
{
    [Fact]
    public void Builds_a_plain_table_exactly()
    {
        string md = MarkdownTable.Build(
            ["method", "ppl"],
            [
                ["LoRA", "12.3"],
                ["a|b", "9"],
            ]
        );
        Assert.Equal("| method | ppl |\n" + "| --- | --- |\n" + "| LoRA | 12.3 |\n" + "| a\\|b | 9 |\n", md);
    }

    [Fact]
    public void Alignments_and_row_width_are_checked()
    {
        var t = new MarkdownTable(["a", "b", "c"], [ColumnAlign.Left, ColumnAlign.Center, ColumnAlign.Right]);
        t.AddRow("1", "2", "3");
        Assert.Equal("| a | b | c |\n| :--- | :---: | ---: |\n| 1 | 2 | 3 |\n", t.ToString());
        Assert.Throws<ArgumentException>(() => t.AddRow("only one"));
    }

    [Theory]
    [InlineData(12.346, 0.5, 2, "12.35 ± 0.50")]
    [InlineData(0.5, 0.0123, 3, "0.500 ± 0.012")]
    [InlineData(7.0, double.NaN, 1, "7.0")]
    [InlineData(double.NaN, 1.0, 2, "n/a")]
    public void Formats_mean_sd(double mean, double sd, int decimals, string expected) =>
        Assert.Equal(expected, MarkdownTable.FormatMeanSd(mean, sd, decimals));

    [Fact]
    public void Mean_sd_table_bolds_best_per_column_exactly()
    {
        // ppl: lower is better; acc: higher is better; time: no bold. 11.004 and 11.001 both print as
        // 11.00, so both are bold; the NaN cell is never best.
        string md = MarkdownTable.MeanSdTable(
            "method",
            ["ppl", "acc", "time"],
            [BestIs.Min, BestIs.Max, BestIs.None],
            [
                ("LoRA", [new MeanSd(12.5, 0.31), new MeanSd(0.61, 0.02), new MeanSd(3, 0.1)]),
                ("Alora", [new MeanSd(11.004, 0.2), new MeanSd(double.NaN, double.NaN), new MeanSd(4, 0.2)]),
                ("Full", [new MeanSd(11.001, 0.4), new MeanSd(0.64, 0.015), new MeanSd(9, 1)]),
            ]
        );
        Assert.Equal(
            "| method | ppl | acc | time |\n"
                + "| :--- | ---: | ---: | ---: |\n"
                + "| LoRA | 12.50 ± 0.31 | 0.61 ± 0.02 | 3.00 ± 0.10 |\n"
                + "| Alora | **11.00 ± 0.20** | n/a | 4.00 ± 0.20 |\n"
                + "| Full | **11.00 ± 0.40** | **0.64 ± 0.01** | 9.00 ± 1.00 |\n",
            md
        );
    }

    [Fact]
    public void MeanSd_of_samples()
    {
        var c = MeanSd.Of([1.0, 2.0, 3.0]);
        Assert.Equal(2.0, c.Mean);
        Assert.Equal(1.0, c.Sd, 1e-15);
    }
}
