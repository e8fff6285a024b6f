using System.Globalization;
using ScottPlot;
using ScottPlot.Plottables;

namespace Alora.Reporting;

/// <summary>
/// The report's figures, rendered to PNG with ScottPlot 5. Every function takes plain arrays, writes the file
/// atomically (temp file in the same folder, then rename, so a reader never sees half a PNG and an old figure
/// survives a failed render), creates the folder if needed, and uses the embedded font (see <see cref="FigureFont"/>).
/// Non-finite values (NaN from a diverged run) are left out of the drawing rather than failing the report.
/// </summary>
public static partial class Figures
{
    /// <summary>Default image width in pixels.</summary>
    public const int DefaultWidth = 800;

    /// <summary>Default image height in pixels.</summary>
    public const int DefaultHeight = 500;

    // Category10: distinct, print-friendly and colour-blind tolerant enough for a handful of methods.
    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    /// <summary>
    /// Box plot per group (median, quartiles, whiskers to the furthest point within 1.5 IQR, Tukey's rule) with
    /// every seed drawn as a point on top and the mean as a diamond. Groups are drawn in enumeration order; the
    /// title gives n when every group has the same, else each tick label does. The axis is logarithmic when the
    /// values span more than a factor 30 (see <see cref="UseLogAxis"/>).
    /// </summary>
    public static void GroupDistribution(
        string path,
        string title,
        string yLabel,
        IReadOnlyDictionary<string, double[]> groups,
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0)
            throw new ArgumentException("no groups to plot", nameof(groups));
        var all = groups.Values.SelectMany(Finite).ToArray();
        // Perplexities of forgetting methods can be 100x the others': a linear axis would flatten every other box.
        bool log = UseLogAxis(all);
        Func<double, double> y = log ? Math.Log10 : v => v;
        var counts = groups.Values.Select(v => Finite(v).Length).Distinct().ToList();
        bool sameN = counts.Count == 1;
        if (sameN)
            title += string.Create(CultureInfo.InvariantCulture, $" (n = {counts[0]} each)");
        using var plot = NewPlot(title, "", log ? yLabel + " (log scale)" : yLabel);

        var boxes = new List<Box>();
        List<double> seedX = [],
            seedY = [],
            meanX = [],
            meanY = [];
        var positions = new double[groups.Count];
        var labels = new string[groups.Count];
        int i = 0;
        foreach (var (name, raw) in groups)
        {
            ArgumentNullException.ThrowIfNull(raw, nameof(groups));
            double[] v = Finite(raw);
            positions[i] = i;
            labels[i] = sameN ? name : string.Create(CultureInfo.InvariantCulture, $"{name} (n={v.Length})");
            if (v.Length > 0)
            {
                double q1 = Summary.Quantile(v, 0.25),
                    q3 = Summary.Quantile(v, 0.75),
                    iqr = q3 - q1;
                Color color = Palette.GetColor(i);
                boxes.Add(
                    new Box
                    {
                        Position = i,
                        BoxMin = y(q1),
                        BoxMax = y(q3),
                        BoxMiddle = y(Summary.Quantile(v, 0.5)),
                        WhiskerMin = y(v.Where(x => x >= q1 - 1.5 * iqr).Min()),
                        WhiskerMax = y(v.Where(x => x <= q3 + 1.5 * iqr).Max()),
                        Width = 0.5,
                        FillColor = color.WithAlpha(0.35),
                        LineColor = color,
                        LineWidth = 1.5f,
                    }
                );
                // Spread the seeds evenly across the box (in seed order) so equal values stay visible;
                // deterministic, unlike random jitter, so figures are reproducible.
                for (int k = 0; k < v.Length; k++)
                {
                    seedX.Add(i + (v.Length == 1 ? 0 : -0.15 + 0.3 * k / (v.Length - 1)));
                    seedY.Add(y(v[k]));
                }
                meanX.Add(i);
                meanY.Add(y(v.Average()));
            }
            i++;
        }

        if (boxes.Count > 0)
        {
            // Add.Boxes repaints every box in one palette colour; put each group's colour back afterwards.
            var styled = boxes.Select(b => (b.FillColor, b.LineColor)).ToArray();
            var boxPlot = plot.Add.Boxes(boxes);
            for (int b = 0; b < boxPlot.Boxes.Count; b++)
                (boxPlot.Boxes[b].FillColor, boxPlot.Boxes[b].LineColor) = styled[b];
            // The boxes differ in colour, so their legend entry is a neutral stand-in: an empty series.
            var key = plot.Add.Markers(Array.Empty<double>(), Array.Empty<double>(), MarkerShape.OpenSquare, 12, Colors.Gray);
            key.LegendText = "box: quartiles and median; whiskers ≤ 1.5 IQR";
        }
        if (seedX.Count > 0)
        {
            plot.Add.Markers(seedX.ToArray(), seedY.ToArray(), MarkerShape.FilledCircle, 6, Colors.Black.WithAlpha(0.7)).LegendText = "seed";
            plot.Add.Markers(meanX.ToArray(), meanY.ToArray(), MarkerShape.OpenDiamond, 11, Colors.Red).LegendText = "mean";
        }
        plot.Axes.Bottom.SetTicks(positions, labels);
        plot.Axes.SetLimitsX(-0.6, groups.Count - 0.4);
        if (log)
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = t => Math.Pow(10, t).ToString("G4", CultureInfo.InvariantCulture),
            };
        ShowLegendOutside(plot);
        Save(plot, path, width, height);
    }

    /// <summary>A log axis when every value is positive and the largest is over 30 times the smallest.</summary>
    internal static bool UseLogAxis(double[] values) => values.Length > 0 && values.Min() > 0 && values.Max() / values.Min() > 30;

    /// <summary>Line chart of training curves, e.g. domain-stage task loss, scaled penalty and total.</summary>
    public static void LossCurves(
        string path,
        string title,
        IReadOnlyList<(string name, double[] x, double[] y)> series,
        string xLabel = "step",
        string yLabel = "loss",
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0)
            throw new ArgumentException("no series to plot", nameof(series));
        using var plot = NewPlot(title, xLabel, yLabel);
        for (int s = 0; s < series.Count; s++)
        {
            var (name, x, y) = series[s];
            var (fx, fy) = FinitePairs(x, y, name);
            var line = plot.Add.ScatterLine(fx, fy, Palette.GetColor(s));
            line.LineWidth = 2;
            line.LegendText = name;
        }
        ShowLegendOutside(plot);
        Save(plot, path, width, height);
    }

    /// <summary>
    /// Heatmap of <paramref name="values"/>[row, column], row 0 at the top, with a colour bar;
    /// e.g. log ||Ω|| with rows q_proj, v_proj and one column per layer. NaN cells are grey.
    /// </summary>
    public static void Heatmap(
        string path,
        string title,
        string[] rowLabels,
        string[] colLabels,
        double[,] values,
        string colorLabel = "",
        string xLabel = "",
        string yLabel = "",
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(rowLabels);
        ArgumentNullException.ThrowIfNull(colLabels);
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.GetLength(0),
            cols = values.GetLength(1);
        if (rows == 0 || cols == 0)
            throw new ArgumentException("empty matrix", nameof(values));
        if (rowLabels.Length != rows || colLabels.Length != cols)
            throw new ArgumentException($"{rowLabels.Length}x{colLabels.Length} labels for a {rows}x{cols} matrix", nameof(values));
        using var plot = NewPlot(title, xLabel, yLabel);

        var map = plot.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.NaNCellColor = Colors.LightGray;
        // Left at ScottPlot's default placement: cell centres on integer coordinates, row 0 at the top
        // (y = rows - 1), so tick positions are the indices. Setting Rectangle or Extent instead draws
        // nothing at all for a single row or column in ScottPlot 5.1.59.
        var finite = values.Cast<double>().Where(double.IsFinite).ToArray();
        if (finite.Length == 0)
            map.ManualRange = new ScottPlot.Range(0, 1);
        else if (finite.Min() == finite.Max())
            map.ManualRange = new ScottPlot.Range(finite[0] - 1, finite[0] + 1); // a zero-width colour range would divide by zero
        map.Update(); // the cell bitmap is cached; rebuild it with the range and colour map set above

        var bar = plot.Add.ColorBar(map);
        bar.Label = colorLabel;
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, cols).Select(c => (double)c)], colLabels);
        // Row 0 is drawn at the top (matrix / image convention), i.e. at y = rows - 1.
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r))], rowLabels);
        plot.Axes.Margins(0, 0);
        Save(plot, path, width, height);
    }

    /// <summary>
    /// Metrics against a swept hyperparameter (e.g. perplexity and accuracy against φ). Series in
    /// <paramref name="rightSeries"/> use a second y axis on the right (dashed), for metrics on another scale.
    /// With <paramref name="logX"/> the x axis is log10 (all x must be &gt; 0). Up to 12 sweep points are
    /// labelled with their exact values; more get automatic ticks.
    /// </summary>
    public static void Sweep(
        string path,
        string title,
        string xLabel,
        double[] x,
        IReadOnlyList<(string name, double[] y)> series,
        bool logX,
        string yLabel = "",
        IReadOnlyList<(string name, double[] y)>? rightSeries = null,
        string rightYLabel = "",
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(series);
        rightSeries ??= [];
        if (series.Count + rightSeries.Count == 0)
            throw new ArgumentException("no series to plot", nameof(series));
        if (logX && x.Any(v => !(v > 0)))
            throw new ArgumentException("log x axis needs every x > 0", nameof(x));
        using var plot = NewPlot(title, logX ? xLabel + " (log scale)" : xLabel, yLabel);
        // ScottPlot 5 has no log axis: plot log10(x) and label the ticks with the original values.
        double[] px = logX ? [.. x.Select(Math.Log10)] : x;

        int colorIndex = 0;
        foreach (var (list, right) in new[] { (series, false), (rightSeries, true) })
        {
            foreach (var (name, y) in list)
            {
                var (fx, fy) = FinitePairs(px, y, name);
                var line = plot.Add.Scatter(fx, fy, Palette.GetColor(colorIndex++));
                line.LineWidth = 2;
                line.MarkerSize = 7;
                line.LegendText = right ? name + " (right axis)" : name;
                if (right)
                {
                    line.Axes.YAxis = plot.Axes.Right;
                    line.LinePattern = LinePattern.Dashed;
                }
            }
        }
        if (rightSeries.Count > 0)
            plot.Axes.Right.Label.Text = rightYLabel;

        if (x.Length is > 0 and <= 12)
            plot.Axes.Bottom.SetTicks(px, [.. x.Select(v => v.ToString("G3", CultureInfo.InvariantCulture))]);
        else if (logX)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                LabelFormatter = e => Math.Pow(10, e).ToString("G3", CultureInfo.InvariantCulture),
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            };
        ShowLegendOutside(plot);
        Save(plot, path, width, height);
    }

    /// <summary>Bar chart with the value printed above each bar, e.g. a cost comparison. A NaN value shows as "n/a".</summary>
    public static void Bars(
        string path,
        string title,
        string yLabel,
        string[] labels,
        double[] values,
        string valueFormat = "G4",
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(values);
        if (labels.Length != values.Length)
            throw new ArgumentException($"{labels.Length} labels for {values.Length} values", nameof(values));
        if (labels.Length == 0)
            throw new ArgumentException("no bars to plot", nameof(values));
        using var plot = NewPlot(title, "", yLabel);
        var bars = new List<Bar>();
        for (int i = 0; i < values.Length; i++)
        {
            bool missing = !double.IsFinite(values[i]);
            // A missing value keeps its slot as an empty, outline-free bar labelled "n/a", so the label row
            // and axis range stay the same as when every value is there.
            bars.Add(
                new Bar
                {
                    Position = i,
                    Value = missing ? 0 : values[i],
                    FillColor = missing ? Colors.Transparent : Palette.GetColor(i),
                    LineWidth = missing ? 0 : 1,
                    Label = missing ? "n/a" : values[i].ToString(valueFormat, CultureInfo.InvariantCulture),
                }
            );
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, labels.Length).Select(i => (double)i)], labels);
        // Bars grow from zero: no margin below zero unless some value is negative.
        if (bars.All(b => b.Value >= 0))
            plot.Axes.Margins(bottom: 0);
        Save(plot, path, width, height);
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title ?? "");
        plot.XLabel(xLabel ?? "");
        plot.YLabel(yLabel ?? "");
        return plot;
    }

    // Below the data area rather than inside it: an inside legend can hide exactly the point a reader needs
    // (an outlier seed, the end of a sweep).
    private static void ShowLegendOutside(Plot plot) => plot.ShowLegend(Edge.Bottom);

    private static double[] Finite(double[] values) => [.. values.Where(double.IsFinite)];

    private static (double[] X, double[] Y) FinitePairs(double[] x, double[] y, string name)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length)
            throw new ArgumentException($"series '{name}': {x.Length} x values but {y.Length} y values");
        var keep = Enumerable.Range(0, x.Length).Where(i => double.IsFinite(x[i]) && double.IsFinite(y[i])).ToArray();
        return ([.. keep.Select(i => x[i])], [.. keep.Select(i => y[i])]);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, 20_000);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, 20_000);
        FigureFont.Apply(plot);
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        // Same folder as the target so the rename is atomic (same file system).
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(png);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
                File.Delete(tmp);
        }
    }
}
