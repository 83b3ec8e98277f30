"""The frame of one plot panel in the SVG figures of the results scripts (encoder_table.py,
sam_fronts.py): title, box, y tick labels the caller places, x ticks at MAC ratios 1-4, axis
labels (the y label on the first panel only). Standard library only."""


def frame(svg, ox, title, w, h, margin, right, X, xmax, yticks, xlabel, ylabel=None):
    """Appends to svg (a list of strings) the panel at x offset ox; X maps a MAC ratio to pixels,
    yticks is [(pixel y, label)]."""
    svg.append('<text x="%d" y="14" font-weight="bold">%s</text>' % (ox + margin, title))
    svg.append('<rect x="%d" y="20" width="%d" height="%d" fill="none" stroke="#888"/>' % (ox + margin, w - margin - right, h - 60))
    for y, label in yticks:
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (ox + margin - 4, y + 4, label))
    for t in [1, 1.5, 2, 2.5, 3, 3.5, 4]:
        if t <= xmax:
            svg.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (X(t), h - 26, t))
    svg.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (ox + margin + (w - margin) // 2, h - 10, xlabel))
    if ylabel:
        svg.append('<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>'
                   % (20 + (h - 60) // 2, 20 + (h - 60) // 2, ylabel))
