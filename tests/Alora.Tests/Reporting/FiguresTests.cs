using Alora.Reporting;
using SkiaSharp;
using Xunit.Abstractions;

namespace Alora.Tests.Reporting;

public sealed class FiguresTests : IDisposable
{
    // Set ALORA_KEEP_FIGURES=1 to keep the PNGs (their folder is printed) and look at them.
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "alora-figures-" + Guid.NewGuid().ToString("N"));
    private readonly ITestOutputHelper _output;

    public FiguresTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("ALORA_KEEP_FIGURES") == "1")
            _output.WriteLine("figures kept in " + _dir);
        else
            Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Decodes the PNG and checks its size and that it is a real picture, not a blank canvas.</summary>
    /// <param name="minColouredFraction">Share of pixels that must be clearly coloured (data, not the black,
    /// white and grey of axes and text): an empty chart with only axes and labels still has many colours.</param>
    private static string AssertPng(string path, int width, int height, double minColouredFraction = 0.002)
    {
        Assert.True(File.Exists(path), path);
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal(width, bitmap.Width);
        Assert.Equal(height, bitmap.Height);
        var colors = new HashSet<uint>();
        foreach (var c in bitmap.Pixels)
            colors.Add((uint)c);
        // Axes, anti-aliased text and coloured data give hundreds of colours; a blank image has one.
        Assert.True(colors.Count > 50, $"only {colors.Count} distinct colours in {path}");
        int coloured = bitmap.Pixels.Count(c => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue)) > 60);
        Assert.True(coloured > minColouredFraction * width * height, $"only {coloured} coloured pixels in {path}");
        // No temp file is left beside the figure.
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
        return path;
    }

    [Fact]
    public void GroupDistribution_writes_png()
    {
        var groups = new Dictionary<string, double[]>
        {
            ["LoRA"] = [12.1, 12.4, 11.9, 12.8, 12.2],
            ["Alora φ=0.1"] = [11.2, 11.0, 11.5, 11.1, 13.9],
            ["Full FT"] = [10.9],
            ["diverged"] = [double.NaN, 10.5, 10.7],
            ["crashed"] = [],
        };
        string path = Path.Combine(_dir, "group.png");
        Figures.GroupDistribution(path, "Perplexity over seeds", "perplexity ↓", groups, 900, 600);
        AssertPng(path, 900, 600);
    }

    [Fact]
    public void GroupDistribution_uses_a_log_axis_only_for_positive_values_spanning_more_than_30x()
    {
        Assert.True(Figures.UseLogAxis([2.59, 6.7, 327.0]));
        Assert.False(Figures.UseLogAxis([2.59, 6.7, 31.1]));
        Assert.False(Figures.UseLogAxis([-1.0, 400.0]));
        Assert.False(Figures.UseLogAxis([]));
        string path = Path.Combine(_dir, "group-log.png");
        Figures.GroupDistribution(
            path,
            "Perplexity",
            "perplexity ↓",
            new Dictionary<string, double[]> { ["base"] = [2.6, 2.6], ["rslora"] = [216, 395] },
            600,
            400
        );
        AssertPng(path, 600, 400);
    }

    [Fact]
    public void GroupDistribution_with_no_finite_values_still_writes_png()
    {
        string path = Path.Combine(_dir, "empty-groups.png");
        Figures.GroupDistribution(path, "Nothing finished", "loss", new Dictionary<string, double[]> { ["a"] = [], ["b"] = [double.NaN] }, 400, 300);
        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal((400, 300), (bitmap.Width, bitmap.Height));
    }

    [Fact]
    public void LossCurves_writes_png_and_overwrites()
    {
        double[] x = [.. Enumerable.Range(0, 200).Select(i => (double)i)];
        double[] task = [.. x.Select(s => 3 * Math.Exp(-s / 50) + 1)];
        double[] pen = [.. x.Select(s => 0.5 * (1 - Math.Exp(-s / 30)))];
        double[] total = [.. task.Zip(pen, (a, b) => a + b)];
        string path = Path.Combine(_dir, "sub", "loss.png"); // folder is created
        Figures.LossCurves(path, "Domain stage", [("task loss", x, task), ("λ·penalty", x, pen), ("total", x, total)]);
        AssertPng(path, Figures.DefaultWidth, Figures.DefaultHeight);
        File.Copy(path, Path.Combine(_dir, "loss-3-series.png"));
        Figures.LossCurves(path, "Domain stage", [("total", x, total)], width: 640, height: 480);
        AssertPng(path, 640, 480);
    }

    [Fact]
    public void Heatmap_writes_png()
    {
        var values = new double[2, 12];
        for (int r = 0; r < 2; r++)
        for (int c = 0; c < 12; c++)
            values[r, c] = Math.Log(1 + c + 5 * r);
        values[1, 3] = double.NaN;
        string[] cols = [.. Enumerable.Range(0, 12).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        string path = Path.Combine(_dir, "heat.png");
        Figures.Heatmap(path, "log ‖Ω‖ per layer", ["q_proj", "v_proj"], cols, values, "log ‖Ω‖", "layer", width: 1000, height: 400);
        AssertPng(path, 1000, 400, minColouredFraction: 0.5);
    }

    [Fact]
    public void Heatmap_of_one_row_or_column_and_constant_values_renders()
    {
        string path = Path.Combine(_dir, "flat.png");
        Figures.Heatmap(
            path,
            "constant",
            ["a"],
            ["x", "y"],
            new double[,]
            {
                { 1.0, 1.0 },
            }
        );
        AssertPng(path, Figures.DefaultWidth, Figures.DefaultHeight, minColouredFraction: 0.5);
        string column = Path.Combine(_dir, "column.png");
        Figures.Heatmap(
            column,
            "one column",
            ["a", "b", "c"],
            ["x"],
            new double[,]
            {
                { 1.0 },
                { 2.0 },
                { double.NaN },
            }
        );
        AssertPng(column, Figures.DefaultWidth, Figures.DefaultHeight, minColouredFraction: 0.3);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sweep_writes_png(bool logX)
    {
        double[] phi = [1e-4, 1e-3, 1e-2, 1e-1, 1];
        string path = Path.Combine(_dir, $"sweep-{logX}.png");
        Figures.Sweep(
            path,
            "Sweep over φ",
            "φ",
            phi,
            [("perplexity", [14.2, 13.1, 12.0, 12.4, 15.8])],
            logX,
            yLabel: "perplexity",
            rightSeries: [("accuracy", [0.52, 0.55, 0.61, 0.60, 0.48])],
            rightYLabel: "accuracy"
        );
        AssertPng(path, Figures.DefaultWidth, Figures.DefaultHeight);
    }

    [Fact]
    public void Sweep_with_many_points_on_log_axis()
    {
        double[] x = [.. Enumerable.Range(0, 30).Select(i => Math.Pow(10, -5 + i / 6.0))];
        string path = Path.Combine(_dir, "sweep-many.png");
        Figures.Sweep(path, "Dense sweep", "φ", x, [("a", [.. x.Select(v => Math.Log10(v))]), ("b", [.. x.Select(v => -Math.Log10(v))])], logX: true);
        AssertPng(path, Figures.DefaultWidth, Figures.DefaultHeight);
    }

    [Fact]
    public void Sweep_rejects_non_positive_x_on_log_axis() =>
        Assert.Throws<ArgumentException>(() => Figures.Sweep(Path.Combine(_dir, "bad.png"), "t", "x", [0.0, 1.0], [("a", [1.0, 2.0])], logX: true));

    [Fact]
    public void Bars_writes_png()
    {
        string path = Path.Combine(_dir, "bars.png");
        Figures.Bars(
            path,
            "Training cost",
            "GPU hours",
            ["LoRA", "Alora", "Full FT", "failed"],
            [1.5, 1.8, 7.25, double.NaN],
            width: 700,
            height: 450
        );
        AssertPng(path, 700, 450);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Figures.Bars(Path.Combine(_dir, "x.png"), "t", "y", ["a"], [1.0, 2.0]));
        Assert.Throws<ArgumentException>(() => Figures.LossCurves(Path.Combine(_dir, "x.png"), "t", [("a", [1.0, 2.0], [1.0])]));
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
    }

    [Fact]
    public void Embedded_font_has_the_glyphs_used_in_labels()
    {
        using var plot = new ScottPlot.Plot();
        FigureFont.Apply(plot);
        var typeface = ScottPlot.Fonts.GetTypeface(FigureFont.Name, bold: false, italic: false);
        Assert.Equal("DejaVu Sans", typeface.FamilyName);
        Assert.True(typeface.ContainsGlyphs("φΩ±‖λ↓≤·"));
        Assert.Equal("DejaVu Sans", ScottPlot.Fonts.GetTypeface(FigureFont.Name, bold: true, italic: false).FamilyName);
    }
}
