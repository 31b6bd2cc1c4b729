"""The conversation window's look: its colours, light and dark (following the system appearance), and the style
sheet made from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """The window's colours (LIGHT or DARK, following the system appearance)."""

    background: str
    bar: str  # header and composer
    line: str  # separators and field borders
    text: str
    caption: str
    accent: str
    accent_disabled: str
    reply_bubble: str
    notice: str
    notice_line: str
    notice_text: str


LIGHT = Theme("#FFFFFF", "#F5F5F7", "#DCDCE0", "#1D1D1F", "#8E8E93", "#0A84FF", "#A9CDF7", "#E9E9EB",
               "#FFF4E0", "#F0C979", "#5C3C00")
DARK = Theme("#1E1E1E", "#2A2A2C", "#3A3A3C", "#F2F2F7", "#98989D", "#0A84FF", "#24466E", "#3A3A3C",
              "#3B2F1B", "#6B5220", "#FFD98A")


def style_sheet(t: Theme) -> str:
    """The conversation window's Qt style sheet in the colours of `t`."""
    return f"""
        ConversationWindow {{ background: {t.background}; }}
        #header, #composerBar {{ background: {t.bar}; }}
        #header {{ border-bottom: 1px solid {t.line}; }}
        #composerBar {{ border-top: 1px solid {t.line}; }}
        #status {{ color: {t.text}; font-size: 12px; }}
        #answering {{ color: {t.caption}; font-size: 11px; }}
        #transcript, #emptyPage, QScrollArea {{ background: {t.background}; }}
        #emptyHint {{ color: {t.caption}; font-size: 14px; }}
        #userBubble {{ background: {t.accent}; border-radius: 16px; }}
        #replyBubble {{ background: {t.reply_bubble}; border-radius: 16px; }}
        #userText {{ color: #FFFFFF; font-size: 14px; }}
        #userText[provisional="true"] {{ color: rgba(255, 255, 255, 170); font-style: italic; }}
        #replyText {{ color: {t.text}; font-size: 14px; }}
        #interruptedTag {{ color: {t.caption}; font-size: 12px; font-style: italic; }}
        #languageTag, #timings {{ color: {t.caption}; font-size: 11px; }}
        #notice {{ background: {t.notice}; border: 1px solid {t.notice_line}; border-radius: 10px; }}
        #noticeMessage {{ color: {t.notice_text}; font-size: 13px; font-weight: 600; }}
        #noticeFix {{ color: {t.notice_text}; font-size: 12px; }}
        #field {{ background: {t.background}; border: 1px solid {t.line}; border-radius: 17px; }}
        #composer {{ background: transparent; border: none; color: {t.text}; font-size: 14px; }}
        QPushButton {{ font-size: 13px; min-height: 18px; border-radius: 13px; padding: 4px 14px; }}
        #sendButton {{ background: {t.accent}; color: #FFFFFF; border: none; font-weight: 600; min-height: 26px;
                       border-radius: 17px; padding: 4px 16px; }}
        #sendButton:disabled {{ background: {t.accent_disabled}; }}
        #resetButton {{ background: transparent; color: {t.accent}; border: 1px solid {t.line}; }}
        #resetButton:pressed, #jumpButton:pressed {{ background: {t.line}; }}
        #jumpButton {{ background: {t.bar}; color: {t.text}; border: 1px solid {t.line}; border-radius: 16px;
                       font-size: 16px; }}
    """
