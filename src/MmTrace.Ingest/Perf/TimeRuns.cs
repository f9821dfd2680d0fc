namespace MmTrace.Ingest.Perf;

/// <summary>Something queued in time order (perf's ordered events).</summary>
internal interface ITimed
{
    long Time { get; }
}

/// <summary>
/// Stable sorting by time of what is mostly in order already: perf record writes each CPU's ring buffer in time
/// order, so a round of a perf.data file is a few ascending runs. Equal times keep their arrival order, as perf's
/// ordered_events does (queue_event inserts after the last event of the same time).
/// </summary>
internal static class TimeRuns
{
    /// <summary>Sorts <paramref name="items"/> by time, stably: a bottom-up merge of the ascending runs found in it, about
    /// linear when there are few. <paramref name="scratch"/> holds at least as many items; <paramref name="runs"/> is reused.</summary>
    public static void Sort<T>(Span<T> items, Span<T> scratch, List<int> runs) where T : struct, ITimed
    {
        if (items.Length < 2) return;
        runs.Clear();
        runs.Add(0);
        for (int k = 1; k < items.Length; k++)
            if (items[k].Time < items[k - 1].Time) runs.Add(k);
        if (runs.Count == 1) return;
        runs.Add(items.Length);
        Span<T> src = items, dst = scratch[..items.Length];
        while (runs.Count > 2)
        {
            int w = 0;
            for (int r = 0; r + 1 < runs.Count; r += 2)
            {
                int lo = runs[r], mid = runs[r + 1], hi = r + 2 < runs.Count ? runs[r + 2] : mid;
                Merge(src[lo..mid], src[mid..hi], dst[lo..hi]);
                runs[w++] = lo;
            }
            runs[w++] = items.Length;
            runs.RemoveRange(w, runs.Count - w);
            var t = src;
            src = dst;
            dst = t;
        }
        if (src != items) src.CopyTo(items);
    }

    /// <summary>Merges two sorted spans into <paramref name="into"/>; on equal times <paramref name="first"/>'s items come first.</summary>
    public static void Merge<T>(ReadOnlySpan<T> first, ReadOnlySpan<T> second, Span<T> into) where T : struct, ITimed
    {
        int i = 0, j = 0, k = 0;
        while (i < first.Length && j < second.Length) into[k++] = second[j].Time < first[i].Time ? second[j++] : first[i++];
        first[i..].CopyTo(into[k..]);
        second[j..].CopyTo(into[(k + first.Length - i)..]);
    }
}
