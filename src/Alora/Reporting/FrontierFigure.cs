using ScottPlot;

namespace Alora.Reporting;

/// <summary>A method's trade-off curve: its points in order of strength, means over seeds with their sds.</summary>
public sealed record FrontierCurve(string Name, double[] X, double[] Y, double[] XSd, double[] YSd);

public static partial class Figures
{
    /// <summary>
    /// Trade-off curves: each method with a strength as a line through its points (in order of strength), each method
    /// without one as a single point, every point with the seeds' sd as error bars on both axes. Non-finite points and
    /// sds are left out.
    /// </summary>
    public static void Frontier(
        string path,
        string title,
        string xLabel,
        string yLabel,
        IReadOnlyList<FrontierCurve> curves,
        int width = DefaultWidth,
        int height = DefaultHeight
    )
    {
        ArgumentNullException.ThrowIfNull(curves);
        if (curves.Count == 0)
            throw new ArgumentException("no curve to plot", nameof(curves));
        using var plot = NewPlot(title, xLabel, yLabel);
        int colorIndex = 0;
        foreach (var c in curves)
        {
            var color = Palette.GetColor(colorIndex++);
            var keep = Enumerable.Range(0, c.X.Length).Where(i => double.IsFinite(c.X[i]) && double.IsFinite(c.Y[i])).ToArray();
            if (keep.Length == 0)
                continue;
            double[] x = [.. keep.Select(i => c.X[i])],
                y = [.. keep.Select(i => c.Y[i])];
            double[] xe = [.. keep.Select(i => double.IsFinite(c.XSd[i]) ? c.XSd[i] : 0)],
                ye = [.. keep.Select(i => double.IsFinite(c.YSd[i]) ? c.YSd[i] : 0)];
            var errors = new ScottPlot.Plottables.ErrorBar(x, y, xe, xe, ye, ye) { LineWidth = 1 };
            errors.LineColor = color.WithAlpha(0.6);
            plot.Add.Plottable(errors);
            var line = plot.Add.Scatter(x, y, color);
            line.LineWidth = x.Length > 1 ? 2 : 0;
            line.MarkerSize = x.Length > 1 ? 7 : 11;
            line.MarkerShape = x.Length > 1 ? MarkerShape.FilledCircle : MarkerShape.FilledDiamond;
            line.LegendText = c.Name;
        }
        ShowLegendOutside(plot);
        Save(plot, path, width, height);
    }
}
