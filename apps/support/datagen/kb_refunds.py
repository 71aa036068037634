"""Help-centre articles: refunds."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "refunds"
ARTICLES = [
    Src("refund-timeline", "How long refunds take", ["refunds", "timeline", "processing"],
        """
## Once we have your return
We inspect returns and issue the refund within 2 business days of the parcel reaching our warehouse. You
get an email when the refund is issued.

## Once we issue it
Refunds take **{refund_min_days} to {refund_max_days} business days** to appear, depending on your bank or
payment provider:
- Credit and debit cards: usually 5 to 7 business days.
- Digital wallets: often faster, 1 to 3 business days.
- Gift cards and store credit: immediately.
- Pay in {inst_count} installments: the plan is adjusted within 3 business days.

## Cancelled orders
Cancelled orders are refunded the same day; the same bank times apply.
""", ["how long does it take to get my money back", "refund time to credit card?", "when will i see my refund"]),
    Src("refund-to-original-payment", "Where your refund goes", ["refunds", "payment method", "store credit"],
        """
Refunds always go back to the **original payment method**. We can't send a refund to a different card,
a bank account or a person other than the buyer.

| You paid with | Your refund goes to |
|---|---|
| Credit or debit card | The same card |
| Digital wallet | The same wallet |
| Gift card | A new gift card balance, emailed to you |
| Store credit | Your store credit balance |
| Pay in {inst_count} installments | Your installment plan (remaining payments are reduced first) |
| Several methods | Each method, in proportion to what it paid |

## The card was cancelled or expired
Your bank still routes the refund to the replacement card or to your account. If it can't, it contacts
you. We can't reissue a refund that the bank accepted.
""", ["can you refund to a different card", "i paid with a gift card, how do i get refunded"]),
    Src("refund-approval-over-threshold", "Refunds that need a supervisor's approval", ["refunds", "approval", "supervisor"],
        """
To protect your account from fraud, any refund over **${refund_threshold}** must be approved by a
support supervisor before it's issued. Refunds of ${refund_threshold} or less are issued right away.

## What this means for you
- Our assistant and agents can start the refund, but one over ${refund_threshold} goes to a supervisor.
- Supervisors review requests within 1 business day and you get an email with the decision.
- Once approved, the usual {refund_min_days} to {refund_max_days} business days apply.

## It isn't a sign something is wrong
Approval is routine for larger amounts; nothing extra is needed from you unless the supervisor asks.
Returns started online through **Return items** are approved automatically when the parcel arrives,
whatever the amount.
""", ["why does my refund need approval", "refund of $150 pending supervisor, what does that mean"]),
    Src("partial-refunds", "Why was I refunded less than I expected?", ["refunds", "partial refund", "discounts"],
        """
A refund can be lower than the price on the product page for a few reasons.

## Common reasons
1. **Promo codes:** the discount is shared across the items in the order, so each item's refund is its
   price minus its share.
2. **Shipping:** the original shipping charge is not refunded for change-of-mind returns.
3. **Earlier refunds:** a price adjustment or partial refund already made on the item is taken off.
4. **Partial return:** only the items we received are refunded; check that each item was in the parcel.

## Check the breakdown
Open the order and select **Refund details**. It lists each refunded item and amount. If something still
doesn't add up, contact us with the order number.
""", ["refund was less than what i paid", "why didn't i get shipping back on my refund"]),
    Src("refunds-for-cancelled-orders", "Refunds for cancelled orders", ["refunds", "cancel", "authorization"],
        """
## Paid orders
When you cancel a paid order, we refund the full amount, shipping included, the same day. It reaches you in
{refund_min_days} to {refund_max_days} business days.

## Pending orders
If the order was still pending, no money was taken: you may see an authorisation hold, which your bank
releases within 3 to 5 business days without any refund being needed.

## Orders we cancelled
If we cancel an order (for example because an item sold out or a payment check failed), you get the same
full refund and an email explaining why.
""", ["i cancelled my order, when do i get refunded", "cancelled order still shows a charge on my card"]),
    Src("refund-not-received", "I haven't received my refund", ["refunds", "missing refund", "bank"],
        """
## Check the dates
- Returns: the refund is issued within 2 business days of the return **reaching us**, not of you sending it.
- After it's issued, allow **{refund_max_days} business days** for your bank to show it.

## Steps
1. Open the order and check the return status. If it says *Refunded*, note the date.
2. If fewer than {refund_max_days} business days have passed since that date, it's still on its way.
3. Look for the refund on your statement under "{shop}" as a credit, not as a reversal of the original line.
4. After {refund_max_days} business days, contact us. We'll send you the refund reference number for your bank.
""", ["still waiting on my refund after 2 weeks", "my return was received but where's the money"]),
    Src("price-adjustments", "Price adjustments after a price drop", ["refunds", "price adjustment", "price drop"],
        """
If the price of something you bought from us drops within **{price_adjust_days} days** of your purchase,
we refund the difference.

## How to ask
Contact us with the order number and the product. We check the current price and refund the difference to
your original payment method.

## Conditions
- One adjustment per item, for the lowest price within the {price_adjust_days} days.
- Only our own prices on {website}: we don't match other retailers.
- Not for clearance, final-sale items or flash deals that use a promo code.
""", ["the chair i bought last week is now cheaper, can i get the difference", "do you price match amazon?"]),
    Src("store-credit", "Store credit", ["refunds", "store credit", "gift card"],
        """
Store credit is a balance on your account that you can spend on {website}.

## When you get store credit
- When a gift is returned, the recipient gets store credit.
- When an order paid with store credit is refunded.
- As a goodwill gesture from our support team.

## Using it
Store credit is applied at checkout automatically; untick **Use store credit** to save it. It never
expires, can be combined with a promo code, and can't be exchanged for cash.
""", ["how do i use my store credit", "does store credit expire"]),
    Src("refunds-for-installment-payments", "Refunds on Pay in {inst_count} orders", ["refunds", "installments", "pay later"],
        """
If you paid in {inst_count} installments, the refund is applied to your installment plan.

## How it's applied
1. The refund first reduces the payments you still owe, starting with the last one.
2. If the refund is larger than what you still owe, the rest goes back to the card you used for the plan.

## Timing
The plan is updated within 3 business days of the refund being issued. Keep paying any installment that
is still due until the plan shows the new amounts, to avoid late fees from the plan provider.
""", ["i paid in 4 payments and returned it, do i keep paying?"]),
    Src("duplicate-charges", "I was charged twice", ["refunds", "payments", "duplicate charge"],
        """
Seeing two charges for one order is usually an **authorisation hold** plus the actual payment.

## Authorisation holds
When you place an order, your bank reserves the amount. If a payment is retried (for example after
updating your card), a second hold may appear. Holds that aren't captured disappear within 3 to 5 business
days and are never actually charged.

## A real duplicate charge
If both charges are still there after 5 business days, or your statement shows both as *posted*, contact us
with the order number and a screenshot of the statement. We refund a genuine duplicate immediately and it
doesn't need supervisor approval.
""", ["i see two charges for the same order", "charged double on my debit card"]),
    Src("chargebacks-and-disputes", "Chargebacks and payment disputes", ["refunds", "chargeback", "dispute"],
        """
Please contact us before disputing a charge with your bank. Most issues are solved faster that way, often
the same day.

## If you have already opened a dispute
- We'll respond to your bank with the order details. We can't issue a refund while the dispute is open,
  since you could be refunded twice.
- Disputes take 30 to 90 days to settle, depending on your bank.

## Account holds
While a dispute is open, we may pause new orders on the account. The hold lifts when the dispute closes.
""", ["should i do a chargeback with my bank", "i disputed the charge, now my account is on hold"]),
    Src("refunds-for-damaged-or-defective", "Refunds for damaged or defective items", ["refunds", "damaged", "defective"],
        """
If an item arrives damaged or turns out defective, we'll first offer a **free replacement**. If you'd rather
have your money back, we refund:
- the price you paid for the item, and
- the shipping you paid, when the whole order was affected.

## Time limits
Report damage on delivery within {damage_days} days. Defects that show up later are covered by the
product's warranty or our {guarantee_days}-day quality guarantee, and the remedy there is usually a repair
or replacement rather than a refund.

Refunds over ${refund_threshold} need a supervisor's approval, as always.
""", ["my blender broke after one use can i get a refund not a replacement"]),
    Src("refunds-and-promo-codes", "How promo codes affect refunds", ["refunds", "promo codes", "discounts"],
        """
## The refund is what you paid
If your order used a promo code, the discount was shared across the eligible items, so you are refunded
each item's discounted price.

## The code itself
- If you cancel the whole order before it ships, the code is released and you can use it again.
- If you return items after delivery, single-use codes are not reissued.
- Codes with a minimum spend (like HARBOR20, ${harbor_off} off ${harbor_min}) are not clawed back if a return
  brings the order below the minimum.
""", ["do i get my promo code back if i return the order"]),
]  # fmt: skip
