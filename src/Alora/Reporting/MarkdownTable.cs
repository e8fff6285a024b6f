using System.Globalization;
using System.Text;

namespace Alora.Reporting;

/// <summary>Horizontal alignment of a Markdown table column.</summary>
public enum ColumnAlign
{
    /// <summary>Renderer default (<c>---</c>).</summary>
    Default,

    /// <summary><c>:---</c></summary>
    Left,

    /// <summary><c>:---:</c></summary>
    Center,

    /// <summary><c>---:</c></summary>
    Right,
}

/// <summary>Which cell of a column is best, and so set in bold.</summary>
public enum BestIs
{
    /// <summary>No cell is bolded.</summary>
    None,

    /// <summary>The smallest mean (loss, perplexity, cost).</summary>
    Min,

    /// <summary>The largest mean (accuracy).</summary>
    Max,
}

/// <summary>A cell of per-seed results: mean and sample standard deviation.</summary>
public readonly record struct MeanSd(double Mean, double Sd)
{
    /// <summary>Mean and sample sd of the given values (sd is NaN for a single value).</summary>
    public static MeanSd Of(IReadOnlyList<double> values) => new(Summary.Mean(values), Summary.StandardDeviation(values));
}

/// <summary>A GitHub-flavoured Markdown table built row by row.</summary>
public sealed class MarkdownTable
{
    private readonly string[] _headers;
    private readonly ColumnAlign[] _align;
    private readonly List<string[]> _rows = [];

    /// <summary>A table with these column headers and, optionally, one alignment per column.</summary>
    public MarkdownTable(IReadOnlyList<string> headers, IReadOnlyList<ColumnAlign>? alignments = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (headers.Count == 0)
            throw new ArgumentException("a table needs at least one column", nameof(headers));
        if (alignments is not null && alignments.Count != headers.Count)
            throw new ArgumentException($"{alignments.Count} alignments for {headers.Count} columns", nameof(alignments));
        _headers = [.. headers];
        _align = alignments is null ? new ColumnAlign[headers.Count] : [.. alignments];
    }

    /// <summary>Number of columns.</summary>
    public int ColumnCount => _headers.Length;

    /// <summary>Appends a row; it must have exactly one cell per column.</summary>
    public MarkdownTable AddRow(params IReadOnlyList<string> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Count != _headers.Length)
            throw new ArgumentException($"row has {cells.Count} cells, the table has {_headers.Length} columns", nameof(cells));
        _rows.Add([.. cells]);
        return this;
    }

    /// <summary>The table as Markdown, one line per row, each line ending in '\n'.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendLine(sb, _headers);
        AppendLine(
            sb,
            _align.Select(a =>
                a switch
                {
                    ColumnAlign.Left => ":---",
                    ColumnAlign.Center => ":---:",
                    ColumnAlign.Right => "---:",
                    _ => "---",
                }
            ),
            escape: false
        );
        foreach (var row in _rows)
            AppendLine(sb, row);
        return sb.ToString();
    }

    /// <summary>Builds a table from headers and rows in one call.</summary>
    public static string Build(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var table = new MarkdownTable(headers);
        foreach (var row in rows)
            table.AddRow(row);
        return table.ToString();
    }

    /// <summary>
    /// "mean ± sd" with a fixed number of decimals, invariant culture. A NaN sd (a single seed) prints the mean
    /// alone; a NaN mean prints "n/a".
    /// </summary>
    public static string FormatMeanSd(double mean, double sd, int decimals = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(decimals);
        if (double.IsNaN(mean))
            return "n/a";
        string f = "F" + decimals.ToString(CultureInfo.InvariantCulture);
        string m = mean.ToString(f, CultureInfo.InvariantCulture);
        return double.IsNaN(sd) ? m : $"{m} ± {sd.ToString(f, CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// A results table: the first column names each row (e.g. the method), every other column holds a
    /// "mean ± sd" cell, and in each column the best mean (per <paramref name="best"/>) is set in bold.
    /// </summary>
    /// <remarks>
    /// Best is judged on the mean as printed (rounded to <paramref name="decimals"/>), so every cell that
    /// ties on the page is bolded: bolding one of two identical-looking numbers would mislead the reader.
    /// NaN means are never best.
    /// </remarks>
    public static string MeanSdTable(
        string rowHeader,
        IReadOnlyList<string> columns,
        IReadOnlyList<BestIs> best,
        IReadOnlyList<(string Name, IReadOnlyList<MeanSd> Cells)> rows,
        int decimals = 2
    )
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(best);
        ArgumentNullException.ThrowIfNull(rows);
        if (best.Count != columns.Count)
            throw new ArgumentException($"{best.Count} best-rules for {columns.Count} columns", nameof(best));
        foreach (var (name, cells) in rows)
            if (cells.Count != columns.Count)
                throw new ArgumentException($"row '{name}' has {cells.Count} cells for {columns.Count} columns", nameof(rows));

        var bestValue = new double[columns.Count];
        for (int c = 0; c < columns.Count; c++)
        {
            var printed = rows.Select(r => Printed(r.Cells[c].Mean, decimals)).Where(v => !double.IsNaN(v)).ToList();
            bestValue[c] = best[c] switch
            {
                _ when printed.Count == 0 => double.NaN,
                BestIs.Min => printed.Min(),
                BestIs.Max => printed.Max(),
                _ => double.NaN,
            };
        }

        var table = new MarkdownTable([rowHeader, .. columns], [ColumnAlign.Left, .. columns.Select(_ => ColumnAlign.Right)]);
        foreach (var (name, cells) in rows)
        {
            var line = new string[columns.Count + 1];
            line[0] = name;
            for (int c = 0; c < columns.Count; c++)
            {
                string text = FormatMeanSd(cells[c].Mean, cells[c].Sd, decimals);
                bool isBest = !double.IsNaN(bestValue[c]) && Printed(cells[c].Mean, decimals) == bestValue[c];
                line[c + 1] = isBest ? $"**{text}**" : text;
            }
            table.AddRow(line);
        }
        return table.ToString();
    }

    // The mean exactly as FormatMeanSd prints it, read back; Math.Round would round ties differently from "F".
    private static double Printed(double mean, int decimals) =>
        double.IsNaN(mean)
            ? double.NaN
            : double.Parse(
                mean.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                CultureInfo.InvariantCulture
            );

    private static void AppendLine(StringBuilder sb, IEnumerable<string> cells, bool escape = true)
    {
        sb.Append('|');
        foreach (var cell in cells)
            sb.Append(' ').Append(escape ? Escape(cell) : cell).Append(" |");
        sb.Append('\n');
    }

    // A '|' would end the cell and a newline the row; both are legal inside names such as "a|b" runs.
    private static string Escape(string cell) =>
        (cell ?? string.Empty).Replace("|", "\\|", StringComparison.Ordinal).Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ');
}
