"""Help-centre articles: promotions, promo codes and rewards."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "promotions"
ARTICLES = [
    Src("promo-code-rules", "How promo codes work", ["promotions", "promo codes", "discounts"],
        """
## Using a code
Enter the code in **Promo code** on the cart page and select **Apply**. The discount appears before you
pay.

## The rules
- **One promo code per order.** Codes can't be combined with each other.
- Codes can be combined with gift cards, store credit and loyalty rewards.
- Codes don't apply to gift cards, and most exclude clearance items.
- Codes can't be added after an order is placed. If you forgot, cancel the order while it's still
  *pending* or *paid* and place it again with the code.
- Minimum spends are counted on eligible items before tax and shipping.

## Current codes
| Code | Offer | Conditions |
|---|---|---|
| WELCOME10 | {welcome_pct}% off | First order only |
| HARBOR20 | ${harbor_off} off | Orders of ${harbor_min} or more |
| FALL15 | {fall_pct}% off | Orders of ${fall_min} or more, {fall_start} to {fall_end} |
""", ["can i use two promo codes", "forgot to use my discount code, can you apply it now?", "what codes are active"]),
    Src("promo-code-not-working", "My promo code isn't working", ["promotions", "promo codes", "troubleshooting"],
        """
Check the message under the code box; it usually says why.

1. **Expired:** seasonal codes have an end date. SUMMER12 ({summer_pct}% off) ended on {summer_end}.
2. **Minimum spend not met:** for example HARBOR20 needs ${harbor_min} of eligible items.
3. **First order only:** WELCOME10 works only on an account's first order.
4. **Already a code on the order:** only one code per order; remove the first one.
5. **Excluded items:** gift cards and clearance items don't count toward the discount.
6. **Typing:** codes aren't case-sensitive, but watch for spaces and the letter O versus zero.

If the code should work and still doesn't, contact us before ordering with a screenshot of the message.
""", ["promo code says invalid", "my discount code wont apply at checkout", "summer12 not working?"]),
    Src("welcome-discount", "Welcome discount for new customers", ["promotions", "welcome", "first order"],
        """
New customers get **{welcome_pct}% off their first order** with the code **WELCOME10**.

## How to get it
Create an account or sign up for our newsletter; the code is in the welcome email.

## Conditions
- One use, on the first order of the account.
- No minimum spend.
- Doesn't apply to gift cards.
- Can't be combined with another promo code.

Placed your first order without it? If the order is still *pending* or *paid*, cancel it and reorder with
the code; once shipped, we can't apply it.
""", ["is there a first time buyer discount", "new customer code"]),
    Src("referral-program", "Refer a friend", ["promotions", "referral", "credit"],
        """
Share your referral link and you both get **${referral}**.

## How it works
1. Find your link under **Account > Refer a friend**.
2. Your friend gets ${referral} off their first order of $50.00 or more when they use the link.
3. When their order is delivered, you get ${referral} in store credit.

## Limits
- Up to 10 referral credits per year.
- Your friend must be a new customer with a different address and payment method.
- Referral credit can't be combined with WELCOME10 on the friend's first order.
""", ["do you have a referral bonus", "how much do i get for referring a friend"]),
    Src("birthday-reward", "Birthday reward", ["promotions", "birthday", "loyalty"],
        """
Add your birthday under **Account > Profile** and we'll send a **${birthday}** reward during your birthday
month.

- The reward is valid for 30 days and works on orders of $40.00 or more.
- It can be combined with a promo code.
- The birthday can only be changed once a year, and must be added at least 30 days before it to count this
  year.
## Where to find it
The reward is emailed on the first day of your birthday month and also appears under **Account >
Membership > Rewards**. It's applied at checkout like any other reward.

## Didn't get it?
Check that your birthday is saved in your profile and that marketing emails aren't filtered to spam.
The reward still appears in your account even if you've unsubscribed from marketing emails.
""", ["do i get something for my birthday"]),
    Src("seasonal-sales", "Seasonal sales and events", ["promotions", "sales", "events"],
        """
We hold four main sales a year: winter clearance in January, spring home in April, summer outdoor in July
and the fall event from {fall_start} to {fall_end} (this year with FALL15, {fall_pct}% off orders of
${fall_min} or more).

## Early access
Plus and Premier members get 24 hours of early access to every sale.

## Bought just before a sale?
Our price adjustment policy refunds the difference if our price drops within {price_adjust_days} days of
your purchase. It doesn't cover discounts that need a promo code.
""", ["when is your next sale", "i bought it the day before the sale started"]),
    Src("newsletter", "Our newsletter", ["promotions", "newsletter", "email"],
        """
Subscribe at the bottom of any page to get new products, care tips and early notice of sales, about once a
week.

- New subscribers receive the WELCOME10 code for {welcome_pct}% off a first order.
- Unsubscribe with one click at the bottom of any newsletter.
- We never share the list with other companies.
## What's in it
- New arrivals and restocks, usually on Thursday mornings.
- Seasonal care tips, for example reproofing rain jackets in autumn or oiling boards in winter.
- Early notice of sales and last order dates for holiday delivery.

## Changing the email address
Unsubscribe the old address and sign up with the new one, or update your email under **Account > Profile**
if you have an account; the newsletter follows your account email.
""", ["how do i sign up for the newsletter", "too many emails, how often is the newsletter"]),
    Src("free-gifts-with-purchase", "Free gifts with purchase", ["promotions", "free gift", "returns"],
        """
Some promotions add a free gift to qualifying orders; it's added automatically once your cart qualifies.

## Returns
If you return items and the order no longer qualifies, you can keep the gift. We won't deduct its value
from your refund.

## Limits
One free gift per order, while supplies last. Free gifts can't be exchanged for cash or a different item.
## The gift didn't arrive
Check the packing slip: free gifts sometimes ship separately. If it's missing and your order qualified,
contact us within {damage_days} days of delivery and we'll send it if stock remains.

## Qualifying amounts
The qualifying spend is counted after promo codes and before shipping and tax, the same way as the
free-shipping threshold.
""", ["do i have to return the free gift if i return my order"]),
    Src("clearance-section", "Shopping the clearance section", ["promotions", "clearance", "final sale"],
        """
The **Clearance** section has last-of-season items, discontinued colours and floor models at up to 60%
off.

## Before you buy
- Clearance items are **final sale**: they can't be returned or exchanged for a change of mind.
- Promo codes don't apply to clearance items.
- Warranties still apply, and damaged or defective items are replaced.
- Stock is limited and isn't restocked.
## Floor models
Clearance floor models, like the oak side table, may have small marks from display. The product page lists
known marks and shows photos of the actual piece.

## Damaged or defective
If a clearance item arrives damaged or doesn't work, report it within {damage_days} days of delivery and we
replace it, or refund it if no replacement is left.
""", ["can i use a promo code on clearance stuff", "are clearance items returnable?"]),
    Src("gift-cards-buying", "Buying gift cards", ["promotions", "gift cards", "gifting"],
        """
{shop} gift cards come in $25.00, $50.00 and $100.00, as a physical card or an email.

## Send a gift card
1. Choose the amount and whether to post or email it.
2. For email gift cards, add the recipient's email and the date to send it.
3. Add a message; it appears on the card or in the email.

## Good to know
- Gift cards never expire.
- They're final sale and can't be refunded.
- Promo codes and installments can't be used to buy gift cards.
""", ["do you sell e gift cards", "what amounts do gift cards come in"]),
    Src("price-match-policy", "Do you price match?", ["promotions", "price match", "pricing"],
        """
We don't match prices from other retailers. We do refund the difference if **our own** price drops within
{price_adjust_days} days of your purchase; see *Price adjustments after a price drop*.

Prices can differ between our website and marketplace listings run by others; we can only honour prices on
{website}.
## Examples
- You bought the Oak Side Table on the 3rd and our price drops on the 10th: within {price_adjust_days}
  days, so we refund the difference.
- Another shop lists the same tent for less: we can't match it.
- The price drops because you use a promo code in a later sale: not covered, since promo discounts aren't
  price drops.

To ask for an adjustment, contact us with the order number; no receipt is needed.
""", ["will you match a lower price i found somewhere else"]),
    Src("loyalty-rewards-at-checkout", "Using loyalty rewards at checkout", ["promotions", "loyalty", "rewards"],
        """
1. In the payment step, select **Use rewards**.
2. Choose how many ${points_value} rewards to apply; each costs {points_block} points.
3. The reward is taken off the order total before tax.

Rewards can be combined with one promo code and with gift cards. If you return an order paid partly with
rewards, the points come back to your account and the rest is refunded to the original payment method.
## Limits
- Rewards can't be used to buy gift cards.
- You can use as many rewards as you have on one order, up to the item total.
- Rewards have no cash value and can't be transferred to another account.
""", ["how do i use my points", "can i use points and a promo code together"]),
]  # fmt: skip
