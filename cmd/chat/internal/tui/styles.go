package tui

import (
	"charm.land/lipgloss/v2"
)

// styles holds every style the views use. With NO_COLOR all of them are
// plain: the UI never relies on colour alone (markers such as ">", "*",
// "+" and "(3)" carry the meaning).
type styles struct {
	title, dim, me, other, selected, header, err, notice, online, unread lipgloss.Style
}

func newStyles(noColor bool) styles {
	if noColor {
		plain := lipgloss.NewStyle()
		return styles{title: plain, dim: plain, me: plain, other: plain, selected: plain,
			header: plain, err: plain, notice: plain, online: plain, unread: plain}
	}
	return styles{
		title:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		dim:      lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		me:       lipgloss.NewStyle().Foreground(lipgloss.Color("10")).Bold(true),
		other:    lipgloss.NewStyle().Foreground(lipgloss.Color("14")).Bold(true),
		selected: lipgloss.NewStyle().Reverse(true),
		header:   lipgloss.NewStyle().Bold(true).Underline(true),
		err:      lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		notice:   lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		online:   lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		unread:   lipgloss.NewStyle().Foreground(lipgloss.Color("11")).Bold(true),
	}
}
