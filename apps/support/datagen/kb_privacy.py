"""Help-centre articles: privacy and security."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "privacy"
ARTICLES = [
    Src("privacy-overview", "Your privacy at {shop}", ["privacy", "personal data", "policy"],
        """
We collect only the information we need to sell and deliver your orders, support you and, if you agree,
send you offers.

## In short
- We **never sell** your personal information.
- We share it only with the companies that help us run the shop: payment processing, carriers, email
  delivery and our help desk, under contracts that limit how they use it.
- You can see, download, correct or delete your data at any time.

## Your choices
- **Download your data:** **Account > Privacy > Download my data**.
- **Delete your data:** **Account > Privacy > Close account**, or ask support.
- **Marketing:** turn it off in **Account > Notifications**.

Requests are completed within **{data_days} days**.
## Who is responsible
{shop} is responsible for your personal data. Questions about privacy go to privacy@{website}; we answer
within {data_days} days, usually much sooner.

## Security
Data is encrypted in transit and at rest. Access is limited to staff who need it for their job, and our
support team can only see the details needed to help with your request.

## Changes to this policy
We'll email you before any change that affects how we use your data.
""", ["do you sell my data", "what do you do with my personal information"]),
    Src("data-we-collect", "What information we collect", ["privacy", "data collection"],
        """
## When you order
Your name, email, phone, shipping and billing address, the items you buy and your payment method (the
payment provider keeps the card; we only see its brand and last four digits).

## When you contact support
The messages you send, notes our team adds, and recordings of phone calls (with notice at the start of
the call). Chat conversations with our assistant are kept with your support history.

## When you browse
Pages viewed, device and browser type, and approximate location from your IP address, through cookies you
can control (see *Cookies*).

## What we don't collect
We don't collect government ID numbers, and we never ask for your password or full card number.
""", ["what info do you keep about me", "do you record support calls"]),
    Src("download-your-data", "Downloading a copy of your data", ["privacy", "data export", "access request"],
        """
1. Sign in and go to **Account > Privacy**.
2. Select **Download my data**.
3. We email you a secure link to a ZIP file with your profile, addresses, orders, support history and
   marketing preferences, in readable formats.

Exports are usually ready within a day and always within **{data_days} days**. The link works for 7 days.

## Without an account
Email {support_email} from the address you used with us. We'll verify that the request comes from you
before sending anything.
""", ["can i get a copy of all the data you have on me", "data access request"]),
    Src("delete-your-data", "Deleting your personal data", ["privacy", "deletion", "right to be forgotten"],
        """
You can ask us to delete your personal data.

## How
- **With an account:** **Account > Privacy > Close account** deletes the account and its data.
- **Without an account:** email {support_email} from the address you used.

## What happens
- We confirm the request and complete it within **{data_days} days**.
- Marketing stops immediately.
- We keep order and payment records for **{retention_years} years** because tax law requires it, and we
  keep them only for that purpose.
- Open returns or warranty claims are finished first, so you don't lose money.

Support agents can start a deletion request for you, but can't undo it once completed.
""", ["i want you to delete all my info", "gdpr deletion request how long does it take"]),
    Src("marketing-opt-out", "Stopping marketing emails and texts", ["privacy", "marketing", "unsubscribe"],
        """
## Emails
Select **Unsubscribe** at the bottom of any marketing email, or turn off **Marketing emails** in **Account >
Notifications**. It takes effect within 48 hours.

## Texts
Reply **STOP** to any marketing text.

## What you'll still get
Order confirmations, shipping and delivery updates, receipts and replies to your support requests. These
aren't marketing and can't be switched off.
## Post
We send a printed catalogue twice a year to customers who ordered in the last 12 months. Ask support to
remove your address from the mailing list; allow 6 weeks, as catalogues are printed in advance.

## Phone
We don't make marketing calls. If someone calls you claiming to be {shop} and offering deals or
warranties, it isn't us.
""", ["stop sending me promo emails", "unsubscribe from texts"]),
    Src("cookies", "Cookies and tracking", ["privacy", "cookies", "tracking"],
        """
We use cookies for three purposes:
1. **Essential:** keeping you signed in and remembering your cart. These can't be turned off.
2. **Analytics:** understanding which pages work well. Off unless you agree.
3. **Advertising:** showing our ads on other sites. Off unless you agree.

## Change your choice
Select **Cookie settings** at the bottom of any page. Blocking all cookies in your browser will stop
sign-in and checkout from working.

We honour Global Privacy Control signals as an opt-out of advertising cookies.
""", ["how do i turn off tracking cookies"]),
    Src("data-retention", "How long we keep your data", ["privacy", "retention"],
        """
| Data | Kept for |
|---|---|
| Order and payment records | {retention_years} years (tax and accounting law) |
| Support conversations and tickets | 3 years after the last message |
| Account profile | Until you close the account |
| Marketing preferences | Until you close the account, then only the opt-out |
| Website analytics | 14 months |

When the period ends, we delete the data or make it anonymous. Closing your account starts deletion of
everything not kept by law within {data_days} days.
""", ["how long do you store my order history"]),
    Src("identity-verification-for-support", "Why support asks you to verify your identity", ["privacy", "security", "verification"],
        """
To protect your account, our support team and assistant only discuss or change an account with its owner.

## What we check
- You're signed in, or you contact us from the email on the account.
- For changes like the account email, we may also ask about a recent order (number, items or total).

## What we will never do
- Share one customer's orders, address or contact details with anyone else, even family members or people
  who say they're staff.
- Ask for your password, full card number or security code.
- Take instructions to refund, cancel or change an order that isn't yours.

If someone else placed an order for you, they need to contact us themselves.
""", ["can you tell me what my husband ordered", "why won't support show me my friend's order"]),
    Src("spotting-phishing", "Spotting phishing and scam messages", ["privacy", "security", "phishing", "scam"],
        """
Scammers sometimes pretend to be well-known shops.

## Real messages from us
- Come from addresses ending in **@{website}**.
- Link only to **{website}**.
- Never ask for your password, full card number, security code or gift card numbers.

## Warning signs
- Urgent threats: "your account will be closed in 24 hours".
- Requests to pay a fee to release a parcel, or to buy gift cards.
- Prizes or refunds you didn't ask for.

## If you clicked a link
Change your password right away, turn on two-step verification, and contact us. Forward suspicious emails
to security@{website}.
""", ["got a text saying my parcel is held and i need to pay a fee", "is this email really from you"]),
    Src("childrens-privacy", "Children's privacy", ["privacy", "children", "age"],
        """
Our shop and accounts are for adults. You must be at least 18 to create an account or place an order.

We don't knowingly collect information from children under 13. If you believe a child has given us
personal information, email {support_email} and we'll delete it within {data_days} days.
## Teens using a parent's account
A parent or guardian can let a teenager browse and add items to a shared cart, but the account holder is
responsible for the orders placed and must be the one who contacts support about them.

## Gift purchases for children
Buying a gift for a child is fine: we only store the shipping name and address you enter for the delivery,
and you can delete saved addresses at any time under **Account > Addresses**.
""", ["can my 15 year old have an account"]),
    Src("privacy-rights-by-state", "Privacy rights by US state", ["privacy", "california", "state law"],
        """
Residents of California, Colorado, Connecticut, Virginia and several other states have specific privacy
rights. We extend the same rights to all our customers:

- **Know and access:** see what we hold about you (*Download my data*).
- **Correct:** fix inaccurate information in **Account > Profile** or through support.
- **Delete:** ask us to delete your data (*Deleting your personal data*).
- **Opt out of sale or sharing:** we don't sell data; turn off advertising cookies in **Cookie settings**.
- **No discrimination:** using your rights never changes prices or service.

We answer every request within {data_days} days. An authorised agent can make a request for you with your
signed permission.
""", ["what are my rights under california privacy law"]),
]  # fmt: skip
